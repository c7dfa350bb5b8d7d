"""LAN discovery (zeroconf) and pairing by request: the announcer, its federation endpoints and admin routes."""
