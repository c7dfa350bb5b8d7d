"""Use cases of one node: federation, pairing, sync, talent, referrals, relay, provenance.

No aiohttp here: the HTTP adapters in node/http call these, and so do the CLI's admin routes
and the dashboard. Time comes from a clock passed in."""
