"""OKX has no interest event: the connector charges the rise of each currency's accrued
`interest` between account views (REST snapshots and pushes alike), once."""
from __future__ import annotations

from typing import Any

from connectors.okx.reference import ContractSizes
from connectors.okx.schemas import AccountData, BalanceDetail
from connectors.okx.trading import OkxTrading
from daemon.hub import Hub


def _view(ms: int, **interest: str) -> AccountData:
    return AccountData(details=[BalanceDetail(ccy=c, cashBal="-1", liab="1", interest=i)
                                for c, i in interest.items()], uTime=str(ms))


def test_rises_of_accrued_interest_are_charged_once_in_view_order() -> None:
    hub = Hub()
    charges: list[Any] = []
    hub.interest_charge = charges.append  # type: ignore[method-assign]
    trading = OkxTrading(hub, "okx", rest=None, base="", sizes=ContractSizes())  # type: ignore[arg-type]
    trading.publish_account(_view(1_000, BTC="0.00000005"))    # from before: the baseline
    assert charges == []
    trading.publish_account(_view(2_000, BTC="0.00000012", ETH="0.000001"))
    assert [(c.asset, c.amount, c.ts_ms) for c in charges] == [
        ("BTC", 7e-08, 2_000), ("ETH", 1e-06, 2_000)]
    trading.publish_account(_view(1_500, BTC="0.00000005"))    # a stale REST answer: skipped
    trading.publish_account(_view(3_000, BTC="0.00000012", ETH="0.000001"))
    assert len(charges) == 2                                   # nothing charged twice
    trading.publish_account(_view(4_000, BTC="0", ETH="0.000001"))     # BTC repaid
    trading.publish_account(_view(5_000, BTC="0.00000002", ETH="0.000001"))
    assert [(c.asset, c.amount) for c in charges[2:]] == [("BTC", 2e-08)]
