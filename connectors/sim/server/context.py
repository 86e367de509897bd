"""What the request handlers need from the venue they serve (`VenueContext`).

rest.py, the endpoint tables, control.py, margin_risk.py and ws_api.py are given the venue as a
`VenueContext`, so that none of them imports venue.py, which builds the apps from them;
`VenueServer` (venue.py) is the implementation."""
from __future__ import annotations

from typing import Any, Protocol

from connectors.sim.config import ClockMode
from connectors.sim.server.faults import TransportFaults
from connectors.sim.server.listen_tokens import ListenTokens, WsApiHub
from connectors.sim.server.listenkeys import ListenKeys
from connectors.sim.server.streams import StreamHub
from connectors.sim.server.weights import WeightLimiter


class VenueContext(Protocol):
    name: str
    clock: ClockMode
    # The engine facade (connectors.sim.engine.Exchange), or a test double with its methods.
    exchange: Any
    limiters: dict[str, WeightLimiter]     # per REST family: "api", "sapi", "fapi"
    faults: TransportFaults
    hub: StreamHub
    listen_keys: ListenKeys
    listen_tokens: ListenTokens
    ws_api: WsApiHub

    def wall_s(self) -> float: ...

    def server_ms(self) -> int:
        """The venue clock as API timestamps report it (clock_skew applied)."""
        ...

    def auth_clocks_ms(self) -> tuple[int, ...]:
        """The clocks a signed request's timestamp may fit (see venue.py)."""
        ...

    def secret_for_key(self, api_key: str) -> str | None: ...

    def create_account(self, funding: dict[str, Any],
                       futures_funding: dict[str, Any] | None = None) -> tuple[str, str]: ...

    def flush_events(self) -> None:
        """Publishes what the engine queued during a request."""
        ...

    def advance(self, dt_s: float) -> None: ...

    def resolve_stream(self, market: str, kind: str, name: str) -> str: ...

    def close_listen_key(self, key: str) -> None: ...

    def expire_listen_keys(self) -> None: ...

    async def hang(self, seconds: float) -> None: ...
