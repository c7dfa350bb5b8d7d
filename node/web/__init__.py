"""The staff web dashboard (issue 14): server-rendered pages over the same node/core use cases the
admin API and the CLI call, on a listener of its own (``dashboard_listen``, loopback by default)."""
