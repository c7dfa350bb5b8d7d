"""The I/O shell of orgnode: key files, config, aiohttp servers, timers and the CLI."""
