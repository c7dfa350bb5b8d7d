"""orgnode's SQLite storage (through sqlite-utils). Speaks protocol types; never imports ``node``."""
