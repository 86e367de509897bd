"""Scripted regimes over scenario time (TOML). A scenario is a list of regimes, each active over
[start_s, start_s + duration_s) of (optionally cyclic) scenario time, for some symbols/assets:

    name = "pump"
    cycle_s = 0                       # > 0 repeats the script
    [[regimes]]
    kind = "pump"                     # calm | basis | negative_funding | basis_blowout | pump |
    start_s = 30                      # crash | move | volatility | borrow_spike | borrow_pool |
    duration_s = 60                   # fault
    pct = 40                          # pump/crash/move: % over duration_s
    symbols = ["BTCUSDT"]             # default: every symbol

basis/negative_funding/basis_blowout set the OU mean of the basis (`basis`, e.g. -0.002) and
optionally its pull `theta`; borrow_spike multiplies an asset's hourly rate by `multiplier`;
borrow_pool sets the pool of `asset` to `amount` at start and restores it at the end;
fault injects `fault` with `params` at start (see faults.py)."""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"

_KINDS = {"calm", "basis", "negative_funding", "basis_blowout", "pump", "crash", "move",
          "volatility", "borrow_spike", "borrow_pool", "fault"}


@dataclass(frozen=True)
class Regime:
    kind: str
    start_s: float
    duration_s: float = math.inf
    symbols: tuple[str, ...] = ()
    assets: tuple[str, ...] = ()
    pct: float = 0.0
    basis: float | None = None
    theta: float | None = None
    vol_mult: float = 1.0
    multiplier: float = 1.0
    amount: str = "0"
    fault: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def applies_to_symbol(self, symbol: str) -> bool:
        return not self.symbols or symbol in self.symbols


@dataclass(frozen=True)
class Scenario:
    name: str
    regimes: tuple[Regime, ...] = ()
    cycle_s: float = 0.0
    description: str = ""

    def local(self, t: float) -> float:
        return t % self.cycle_s if self.cycle_s > 0 else t

    def active(self, t: float) -> list[Regime]:
        tc = self.local(t)
        return [r for r in self.regimes if r.start_s <= tc < r.end_s]

    def crossings(self, t0: float, t1: float) -> list[tuple[Regime, str]]:
        """Regime starts ("start") and ends ("end") in [t0, t1), in time order."""
        out: list[tuple[float, int, Regime, str]] = []
        for i, r in enumerate(self.regimes):
            for edge, what in ((r.end_s, "end"), (r.start_s, "start")):
                if math.isinf(edge):
                    continue
                for abs_t in self._edge_times(edge, t0, t1):
                    out.append((abs_t, 0 if what == "end" else 1, r, what))
        out.sort(key=lambda x: (x[0], x[1]))
        return [(r, what) for _, _, r, what in out]

    def _edge_times(self, edge: float, t0: float, t1: float) -> list[float]:
        if self.cycle_s <= 0:
            return [edge] if t0 <= edge < t1 else []
        k = math.ceil((t0 - edge) / self.cycle_s)
        res = []
        while (x := edge + k * self.cycle_s) < t1:
            if x >= t0:
                res.append(x)
            k += 1
        return res


def parse_scenario(raw: dict[str, Any], default_name: str = "scenario") -> Scenario:
    regimes = []
    for i, r in enumerate(raw.get("regimes", [])):
        kind = r.get("kind")
        if kind not in _KINDS:
            raise ValueError(f"regime {i}: unknown kind {kind!r} (one of {sorted(_KINDS)})")
        duration = float(r.get("duration_s", math.inf))
        if "end_s" in r:
            duration = float(r["end_s"]) - float(r.get("start_s", 0))
        pct = float(r.get("pct", 0.0))
        if kind == "crash":
            pct = -abs(pct)
        elif kind == "pump":
            pct = abs(pct)
        if kind in ("pump", "crash", "move") and not math.isfinite(duration):
            raise ValueError(f"regime {i}: {kind} needs duration_s")
        assets = r.get("assets") or ([r["asset"]] if "asset" in r else [])
        regimes.append(Regime(
            kind=kind, start_s=float(r.get("start_s", 0.0)), duration_s=duration,
            symbols=tuple(r.get("symbols", ())), assets=tuple(assets), pct=pct,
            basis=None if "basis" not in r else float(r["basis"]),
            theta=None if "theta" not in r else float(r["theta"]),
            vol_mult=float(r.get("vol_mult", 1.0)), multiplier=float(r.get("multiplier", 1.0)),
            amount=str(r.get("amount", "0")), fault=str(r.get("fault", "")),
            params=dict(r.get("params", {})),
        ))
    return Scenario(name=str(raw.get("name", default_name)), regimes=tuple(regimes),
                    cycle_s=float(raw.get("cycle_s", 0.0)),
                    description=str(raw.get("description", "")))


def load_scenario(path_or_name: str | Path) -> Scenario:
    """A path to a TOML file, or the name of one in connectors/sim/scenarios/ ("default")."""
    p = Path(path_or_name)
    if not p.suffix and not p.exists():
        p = SCENARIO_DIR / f"{path_or_name}.toml"
    with open(p, "rb") as f:
        raw = tomllib.load(f)
    return parse_scenario(raw, default_name=p.stem)
