"""The daily-loss baseline waits for every configured venue to report both wallets.

A baseline over part of the account would be journaled as the day's (too low: the limit inert
for the day); a restored baseline compared with part of the account reads as a loss and halts."""
from __future__ import annotations

from typing import Any

from daemon.core.halt import DAY_MS, DailyLoss, HaltMode
from connectors.types import Balance
from daemon.hub import Hub
from daemon.risk.watchdog import Watchdog
from daemon.risk.config import WatchdogConfig

DAY = 20_000
NOON = DAY * DAY_MS + DAY_MS // 2


class Store:
    def __init__(self) -> None:
        self.baselines: list[tuple[int, float]] = []

    def record_daily_loss(self, day: int, start_equity: float, ts_ms: int) -> None:
        self.baselines.append((day, start_equity))

    def record_halt(self, doc: dict[str, Any], ts_ms: int) -> None:
        pass


class NoActions:
    def transfer(self, *a: Any) -> None: ...
    def deleverage(self, *a: Any) -> None: ...
    def unwind(self, *a: Any) -> None: ...
    def close(self, *a: Any) -> None: ...
    def rehedge(self, *a: Any) -> None: ...


def watchdog(hub: Hub, store: Store, **kw: Any) -> Watchdog:
    wd = Watchdog(hub, WatchdogConfig(daily_loss_limit=1_000.0, daily_loss_halt_mode="no_new"),
                  lambda: [], NoActions(), wall_ms=lambda: NOON, state_store=store,
                  venues=["a", "b"], **kw)
    wd.start()
    return wd


def usdt(hub: Hub, venue: str, wallet: str, amount: float) -> None:
    hub.set_balance(Balance(venue=venue, wallet=wallet, asset="USDT", free=amount))


def test_no_baseline_until_every_venue_reported_both_wallets() -> None:
    hub, store = Hub(), Store()
    wd = watchdog(hub, store)
    assert wd.status()["daily_loss_baseline"] == {
        "state": "waiting for venues",
        "waiting_for": ["a:futures", "a:margin", "b:futures", "b:margin"]}
    usdt(hub, "a", "margin", 6_000.0)
    usdt(hub, "a", "futures", 4_000.0)
    usdt(hub, "b", "margin", 5_000.0)
    assert store.baselines == [] and wd.loss.day == -1
    assert wd.status()["daily_loss_baseline"]["waiting_for"] == ["b:futures"]
    usdt(hub, "b", "futures", 5_000.0)
    assert store.baselines == [(DAY, 20_000.0)] and wd.loss.start_equity == 20_000.0
    assert wd.status()["daily_loss_baseline"] == {"state": "taken", "waiting_for": []}
    usdt(hub, "b", "futures", 3_500.0)                    # a real loss is still seen
    assert wd.loss.loss == 1_500.0 and wd.halt_state.mode is HaltMode.NO_NEW


def test_a_restored_baseline_is_not_compared_with_part_of_the_account() -> None:
    hub, store = Hub(), Store()
    wd = watchdog(hub, store)
    wd.restore({"daily_loss": {"day": DAY, "start_equity": 20_000.0}, "halt": None})
    usdt(hub, "a", "margin", 6_000.0)
    usdt(hub, "a", "futures", 4_000.0)                    # half the account: not a 10k loss
    assert wd.halt_state.mode is HaltMode.NONE and wd.loss.loss == 0.0
    usdt(hub, "b", "margin", 5_000.0)
    usdt(hub, "b", "futures", 4_900.0)
    assert wd.loss.loss == 100.0 and wd.halt_state.mode is HaltMode.NONE
    assert store.baselines == [] and wd.loss.start_equity == 20_000.0


def test_restored_at_construction_waits_as_well() -> None:
    hub, store = Hub(), Store()
    usdt(hub, "a", "margin", 10_000.0)
    usdt(hub, "a", "futures", 10_000.0)
    wd = watchdog(hub, store, daily_loss=DailyLoss(day=DAY, start_equity=40_000.0))
    assert wd.halt_state.mode is HaltMode.NONE
    assert wd.status()["daily_loss_baseline"]["state"] == "waiting for venues"
