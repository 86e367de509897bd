"""A healthy 3x reverse basis opened with the watchdog running is not unwound on the account's
own mid-open reading (issue 12's unreproduced "unwind mid-open", now reproduced).

The venue reports a borrow's liability and the coin it credits in separate messages; the sim sends
the liability first, so for a moment the margin account holds the liability with no coin and no
sale proceeds: margin level 0.5 on a pair at 1.5 (its margin leg "-54 % from liquidation"). The
watchdog used to unwind the pair in that millisecond. Now a trim or unwind the margin leg alone
calls for, while an operation moves that margin account, waits until the breach has lasted
`settle_s` (daemon/risk/ladder.confirm_margin_breach). Real stack on the manual-clock sim at the
rig's 3x sizing (margin collateral N/2, futures wallet N/3), several opens and closes.
"""
from __future__ import annotations

from pathlib import Path

from tests.daemon.risk.stack_rig import SYM, stack
from tests.reliability.test_fault_matrix import _run_until_idle

NOTIONAL = 4_000.0
OPENS = 3


async def test_a_3x_open_is_not_unwound_on_its_own_borrow(tmp_path: Path) -> None:
    async with stack(tmp_path, 17, "", notional=NOTIONAL, open_pair=False) as rig:
        assert rig.watchdog is not None
        await rig.venue.set_leverage(SYM, 3)
        torn = 0
        for i in range(OPENS):
            before = len(rig.watchdog.steps)
            rig.pid = await rig.engine.open_pair("reverse_basis", SYM, NOTIONAL, "taker")
            await _run_until_idle(rig)
            view = rig.engine.view(rig.pid)
            steps = list(rig.watchdog.steps)[before:]
            acted = [s for s in steps if s["step"] in ("unwind", "deleverage", "close")]
            assert view["state"] == "open" and not acted, (i, view["state"], view["reason"], acted)
            assert view["hedged"], view
            torn += sum(1 for s in steps if s["step"] == "level" and s["detail"]["to"] == "unwind")
            await rig.engine.close(rig.pid, "taker")
            await _run_until_idle(rig)
            assert rig.engine.view(rig.pid)["state"] == "closed"
        assert rig.liquidations() == []
        print(f"opens whose account read at the unwind step for a moment: {torn}/{OPENS}")
