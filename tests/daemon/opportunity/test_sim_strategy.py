"""Done-when 4: in the default sim scenario (calm -> negative funding -> shock -> recovery) the
strategy opens a reverse basis on its own and later closes it; `basisctl positions` shows the
PnL breakdown (funding, interest, fees, basis)."""
from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from daemon.core.halt import HaltMode
from daemon.legging.engine import LeggingEngine
from connectors.binance.legs import BinanceLegVenue
from daemon.legging.config import LeggingConfig
from daemon.legging.api import position_routes
from daemon.opportunity.strategy import LeggingAdapter, Strategy, collateral_from_hub
from daemon.opportunity.config import ScannerConfig, StrategyConfig

from .simkit import rig

BIN = Path(sys.executable).parent


async def test_default_scenario_strategy_opens_and_closes_reverse_basis(short_dir: Path) -> None:
    scfg = ScannerConfig(quote_size_usd=5_000.0, tick_s=0.1, min_history=30)
    engines: dict[str, LeggingEngine] = {}

    def routes(hub, venue):  # type: ignore[no-untyped-def]
        eng = LeggingEngine(hub, {"sim-a": BinanceLegVenue(venue)},
                            LeggingConfig(default_execution="taker", op_budget_s=30.0))
        engines["e"] = eng
        return position_routes(eng)

    async with rig(short_dir, "default", scfg, extra_routes=routes) as r:
        engine = engines["e"]
        await engine.start()
        # The sim's history starts at t=0: too short for an OU fit, so the embedded-exchange
        # policy enters on the APR threshold alone (no_fit = "apr_only").
        cfg = StrategyConfig(enabled=True, types=["reverse_basis"], no_fit="apr_only",
                             entry_net_apr_pct=20.0, entry_confirm=2, exit_confirm=2,
                             settlement_guard_s=900, cooldown_s=600, decision_interval_s=0.1,
                             entry_notional_usd=2_000.0, max_open_pairs=1,
                             execution="taker")
        strategy = Strategy(cfg, opportunities=lambda: r.scanner.latest,
                            engine=LeggingAdapter(engine), halt_mode=lambda: HaltMode.NONE,
                            collateral=lambda: collateral_from_hub(r.hub))
        await strategy.start()
        r.stops.extend([engine, strategy])
        seen = {"decisions": 0}

        def decided() -> bool:
            """A new decision since the last chunk: the strategy has seen that chunk's market."""
            n = strategy.state.decisions
            if n > seen["decisions"]:
                seen["decisions"] = n
                return True
            return False

        # Calm (0-150 s of scenario time): funding is the +0.01 % interest floor, nothing to do.
        await r.advance(140.0, chunk=2.0)
        assert engine.pairs == {}, strategy.last
        # Negative funding from 150 s: the strategy opens a reverse basis by itself.
        opened = await r.advance(
            120.0, chunk=1.0, pause=0.1, caught_up=decided,
            until=lambda: any(rt.pair.state.value == "open" for rt in engine.pairs.values()))
        assert opened, (strategy.last, strategy.actions)
        (pid, rt), = engine.pairs.items()
        assert rt.pair.type == "reverse_basis" and pid in strategy.state.owned
        # Hold through the regime, the shock and the recovery; when the basis comes back to the
        # calm floor the funding flips positive and the strategy closes the pair.
        closed = await r.advance(
            400.0, chunk=1.0, pause=0.05, caught_up=decided,
            until=lambda: engine.pairs[pid].pair.state.value == "closed")
        assert closed, (engine.view(pid), strategy.last)
        closes = [a for a in strategy.actions if a["kind"] == "close"]
        assert len(closes) == 1 and closes[0]["intent"]["pair_id"] == pid
        assert closes[0]["intent"]["reason"].startswith(
            ("funding flipped", "net APR", "mean reverted"))

        view = engine.view(pid)
        pnl = view["pnl"]
        assert pnl["funding"] > 0            # longs were paid while it was open
        assert pnl["interest"] > 0 and pnl["fees"] > 0
        out = await asyncio.to_thread(
            subprocess.run, [str(BIN / "basisctl"), "--socket", r.socket, "positions"],
            capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        header, row = out.stdout.splitlines()[:2]
        for col in ("FUNDING", "INTEREST", "FEES", "BASIS", "NET"):
            assert col in header
        assert pid in row and "reverse_basis" in row and "closed" in row
        assert f"{pnl['funding']:,.2f}" in row and f"{pnl['fees']:,.2f}" in row
