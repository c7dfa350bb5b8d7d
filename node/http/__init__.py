"""aiohttp adapters: the federation and admin apps, their routes, the clients and connection guards."""
