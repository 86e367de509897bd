"""The web dashboard: a loopback aiohttp server the daemon starts beside the admin socket.

It holds no figures of its own: every read and every action is a request to the daemon's admin
API over the admin socket (the same handlers basisctl reaches), and the page renders what comes
back. config.py (the `[dashboard]` section), guard.py (access token, Host/Origin and CSRF rules,
pure), upstream.py (the admin-socket client), feed.py (the live snapshot and its short history,
streamed over server-sent events), server.py (routes and lifecycle), static/ (the page: plain ES
modules, CSS, and uPlot vendored under static/vendor/uplot/).
"""
