"""What every venue connector offers the daemon (the lead wires these into the app)."""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from daemon.hub import OrderUpdate


@runtime_checkable
class Venue(Protocol):
    """A connector writes market and account state into the hub and sends orders.

    `prepare_*` build and sign an order without I/O; `send` writes one. Both legs of a pair are
    prepared first and then sent from two tasks created back to back (same loop iteration).
    """

    name: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def prepare_spot_order(self, symbol: str, side: str, quantity: float, **kw: Any) -> Any: ...
    def prepare_perp_order(self, symbol: str, side: str, quantity: float, **kw: Any) -> Any: ...
    async def send(self, prepared: Any) -> OrderUpdate: ...
