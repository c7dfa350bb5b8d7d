"""The `orgnode` command: one module per command group, `common` for what they share."""
