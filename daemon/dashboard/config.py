"""`[dashboard]` configuration: the web dashboard's address and access token (by name)."""
from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from connectors.config import Name, Section

_Host = Annotated[str, Meta(pattern=r"^[A-Za-z0-9.:\[\]_-]{1,100}(:[0-9]{1,5})?$")]


class DashboardConfig(Section, kw_only=True):
    # Serve the web dashboard (off unless enabled; the embedded default enables it).
    enabled: bool = False
    # Bind address. Anything but loopback (127.0.0.0/8, ::1, localhost) needs `token`.
    host: str = "127.0.0.1"
    # TCP port (0: any free port; the URL is logged as `dashboard_listening` and shown in status).
    port: Annotated[int, Meta(ge=0, le=65535)] = 8470
    # Credential name of the access token, read like venue keys: $BASISD_<NAME>_TOKEN or
    # $CREDENTIALS_DIRECTORY/<name>.token. Never a value here; required off loopback.
    token: Name | None = None
    # Host headers accepted besides the bind address and localhost (`name:port`), e.g. a LAN name.
    allowed_hosts: Annotated[list[_Host], Meta(max_length=20)] = []
    # How often the live view is refreshed from the admin API.
    refresh_s: Annotated[float, Meta(ge=0.2, le=60)] = 1.0
