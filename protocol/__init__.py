"""orgnode's wire protocol: pure, synchronous and free of I/O.

Nothing in this package reads the clock, a socket, a file or a random source it was not handed.
The node shell (``node/``) passes ``now`` (milliseconds since the Unix epoch), keys and randomness in.
"""

PROTOCOL_VERSION = 1
