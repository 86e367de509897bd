"""The fault matrix's process rows: SIGKILL, SIGTERM, journal disk full and a corrupt config on
SIGHUP, each in every phase (idle, opening, open, closing), against a real daemon process and a
real embedded-exchange process (tests/process_rig.py). The venue faults' rows run in-process on the
manual clock (test_fault_matrix.py); these need a process to kill, a disk to fill, a signal to send.

One sim and one daemon for the module; the daemon's state dir is a real tmpfs (the disk-full row
fills it). The sim holds acknowledgements back 400 ms, so an operation spans the fault. Each cell:
bring the daemon to its phase, inject the fault, let the pairs settle (restarting the daemon where
the fault ended it), then check against the sim's ledger:
* every order of ours the venue holds is in the journal, and none reached it twice;
* the venue's perp position and BTC net asset are what the pairs' books say, every pair within its
  residual budget (after the cell, and again once the cell's pair is closed);
* no liquidation, no venue auto-close; coins conserved (the sim's totals per asset unchanged since
  the module began) and every borrow claim balanced.
Row by row, what the fault must also do:
* SIGKILL: the restarted daemon recovers with no error and the pair ends as its operation would.
* SIGTERM: exit 0 within the drain timeout, no order of ours resting, hedged or flat.
* disk full: the daemon halts `no_new`; an open asked for meanwhile sends nothing; an operation in
  flight is journaled once the disk has room.
* corrupt config on SIGHUP (empty, cut short, not UTF-8, a section missing): refused with the reason
  logged, the running limits kept (an open above `max_notional_usd` is still refused).
"""
from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.process_rig import (Rig, SimClient, admin, check_venue_against_books, fill_up,
                               tmpfs, wait)

PHASES = ("idle", "opening", "open", "closing")
FAULTS = ("sigkill", "sigterm", "disk_full", "sighup_corrupt")
NOTIONAL = 2_000.0
MAX_NOTIONAL = 30_000.0
DRAIN_TIMEOUT_S = 4.0
ACK_DELAY_MS = 400
PERP_STEP = 0.001
# What each phase writes over the config before its SIGHUP.
CORRUPT: dict[str, Callable[[bytes], bytes]] = {
    "idle": lambda good: b"",
    "opening": lambda good: good[: len(good) // 2].rstrip(b"\n"),
    "open": lambda good: b"\xff\xfe" + good,
    "closing": lambda good: good.replace(b"[admin]", b"[admin_gone]"),
}
OUTCOMES: dict[str, str] = {}


@dataclass
class Module:
    rig: Rig
    venue: SimClient
    state_dir: Path
    disk: str | None                 # why the state dir is not a tmpfs (None: it is)
    genesis: dict[str, Any]
    good_config: bytes
    log_path: Path
    fillers: list[Path] = field(default_factory=list)

    @property
    def sock(self) -> str:
        return self.rig.sock


@pytest.fixture(scope="module")
def module() -> Iterator[Module]:
    tmp = Path(tempfile.mkdtemp(prefix="bdpf", dir="/tmp"))    # short: unix socket paths
    try:
        with tmpfs(tmp / "state", "8m") as why_not:
            rig = Rig(tmp, drain_timeout_s=DRAIN_TIMEOUT_S)
            try:
                venue = rig.start_sim()
                text = rig.dcfg.read_text().replace(
                    "[legging]\n", f"[legging]\nmax_notional_usd = {MAX_NOTIONAL}\n")
                rig.dcfg.write_text(text)
                for market in ("margin", "futures"):
                    assert venue.control({"action": "delay_acks", "ms": ACK_DELAY_MS,
                                          "market": market})["ok"]
                rig.start_daemon()
                yield Module(rig, venue, tmp / "state", why_not, venue.sim_state()["totals"],
                             rig.dcfg.read_bytes(), tmp / "daemon.log")
            finally:
                rig.close()
        _print_table()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _print_table() -> None:
    if not OUTCOMES:
        return
    print("\nprocess faults (fault x phase -> outcome):")
    for fault in FAULTS:
        row = [OUTCOMES.get(f"{fault}-{phase}", "-") for phase in PHASES]
        print(f"  {fault:15s} " + " | ".join(f"{c:24s}" for c in row))


def _our_ids(m: Module) -> set[str]:
    return {o["clientOrderId"] for o in m.venue.our_orders()}


def _view(m: Module, pid: str) -> dict[str, Any]:
    return admin(m.sock, "GET", f"/v1/positions/{pid}")[1]


def _idle(m: Module) -> list[dict[str, Any]]:
    return m.rig.idle()


def _open(m: Module) -> str:
    def accepted() -> str | None:
        status, body = admin(m.sock, "POST", "/v1/positions", {
            "type": "reverse_basis", "symbol": "BTCUSDT", "notional_usd": NOTIONAL,
            "execution": "taker"})
        assert status in (202, 422, 503), body     # 422/503: books not in yet after a restart
        return str(body["id"]) if status == 202 else None
    return wait(accepted, 30, "open accepted")


def _close(m: Module, pid: str) -> None:
    status, body = admin(m.sock, "POST", f"/v1/positions/{pid}/close",
                         {"confirm": True, "execution": "taker"})
    assert status == 202, body


def _in_flight(m: Module, pid: str, before: set[str]) -> None:
    """Until the operation's first order is on the venue, its acknowledgement held back: the
    fault then lands inside the operation (asserted, or the cell would test an idle pair)."""
    wait(lambda: _our_ids(m) - before, 20, "the operation's first order on the venue")
    view = _view(m, pid)
    assert view["operation"]["running"], ("the operation ended before the fault", view)


def _check_ledger(m: Module, what: str) -> None:
    check_venue_against_books(m.venue, m.sock, m.state_dir)
    st = m.venue.sim_state()
    totals = {k: Decimal(v) for k, v in st["totals"].items()}
    assert totals == {k: Decimal(v) for k, v in m.genesis.items()}, f"{what}: coins not conserved"
    assert all(Decimal(v) == 0 for v in st["claims_imbalance"].values()), (what, st)
    assert st["liquidations"] == 0 and st["autoclose_orders"] == 0, (what, st)


def _log_count(m: Module, event: str) -> int:
    return m.log_path.read_text(errors="replace").count(event)


def _refused_and_nothing_sent(m: Module, notional: float, expect: tuple[int, ...],
                              says: str) -> None:
    before = _our_ids(m)
    status, body = admin(m.sock, "POST", "/v1/positions", {
        "type": "reverse_basis", "symbol": "BTCUSDT", "notional_usd": notional,
        "execution": "taker"})
    assert status in expect and says in body["error"], (status, body)
    assert _our_ids(m) == before, "a refused open sent orders"


# ---------------------------------------------------------------------------------------- faults
def _sigkill(m: Module, phase: str) -> str:
    assert m.rig.daemon is not None
    os.kill(m.rig.daemon.pid, signal.SIGKILL)
    m.rig.daemon.wait()
    m.rig.start_daemon()
    rec = m.rig.status()["legging"]["recovery"]
    assert not rec["errors"], rec
    return f"restarted, {len(rec['resumed'])} resumed"


def _sigterm(m: Module, phase: str) -> str:
    took = m.rig.stop("daemon")
    assert took <= DRAIN_TIMEOUT_S + 2.0, f"exit took {took:.2f} s"
    assert m.venue.open_orders() == [], m.venue.open_orders()
    perp, spot = m.venue.perp_amt(), m.venue.btc_net()
    assert abs(perp + spot) <= PERP_STEP + 1e-6, ("neither hedged nor flat", perp, spot)
    m.rig.start_daemon()
    return f"exit 0 in {took:.1f}s"


def _disk_full(m: Module, phase: str) -> str:
    if m.disk is not None:
        pytest.skip(m.disk)
    filler = fill_up(m.state_dir)
    m.fillers.append(filler)
    try:
        if phase in ("idle", "open"):
            # the first open after the disk filled is refused (its intent cannot be durable)
            _refused_and_nothing_sent(m, NOTIONAL, (409, 503), "")
        wait(lambda: m.rig.status()["halt"] == "no_new", 20, "halt no_new")
        _refused_and_nothing_sent(m, NOTIONAL, (409,), "halted: no_new")
        _idle(m)          # an operation in flight goes on: it reduces or completes risk
        health = m.rig.status()["journal"]
        assert health["healthy"] is False and health["errors"] >= 1, health
    finally:
        filler.unlink()
        m.fillers.remove(filler)
    wait(lambda: m.rig.status()["journal"]["healthy"], 20, "journal healthy again")
    wait(lambda: m.rig.status()["journal"]["pending_rows"] == 0, 20, "held rows written")
    status, body = admin(m.sock, "POST", "/v1/resume", {})
    assert status == 200, body
    assert m.rig.status()["halt"] == "none"
    return "halted no_new, resumed"


def _sighup_corrupt(m: Module, phase: str) -> str:
    assert m.rig.daemon is not None
    rejected, reloads = _log_count(m, "reload_rejected"), m.rig.status()["reloads"]
    m.rig.dcfg.write_bytes(CORRUPT[phase](m.good_config))
    try:
        m.rig.daemon.send_signal(signal.SIGHUP)
        wait(lambda: _log_count(m, "reload_rejected") > rejected, 20, "the reload refused")
    finally:
        m.rig.dcfg.write_bytes(m.good_config)
    assert m.rig.daemon.poll() is None, "the daemon died on a corrupt config"
    assert m.rig.status()["reloads"] == reloads
    # the running limits are kept (a config reset to defaults would allow 1,000,000 USD)
    _refused_and_nothing_sent(m, MAX_NOTIONAL * 1.5, (400,), f"(0, {MAX_NOTIONAL:.0f}]")
    return "refused, old config kept"


INJECT: dict[str, Callable[[Module, str], str]] = {
    "sigkill": _sigkill, "sigterm": _sigterm, "disk_full": _disk_full,
    "sighup_corrupt": _sighup_corrupt,
}
CELLS = [(fault, phase) for fault in FAULTS for phase in PHASES]


@pytest.mark.parametrize(("fault", "phase"), CELLS, ids=[f"{f}-{p}" for f, p in CELLS])
def test_process_fault_in_phase(module: Module, fault: str, phase: str) -> None:
    m = module
    what = f"{fault} while {phase}"
    t0 = time.monotonic()
    pid: str | None = None
    before = _our_ids(m)
    if phase in ("opening", "open", "closing"):
        pid = _open(m)
        if phase == "opening":
            _in_flight(m, pid, before)
        else:
            _idle(m)
            assert _view(m, pid)["state"] == "open", _view(m, pid)
    if phase == "closing":
        before = _our_ids(m)
        _close(m, pid)  # type: ignore[arg-type]
        _in_flight(m, pid, before)  # type: ignore[arg-type]
    outcome = INJECT[fault](m, phase)
    _idle(m)
    if pid is not None:
        state = _view(m, pid)["state"]
        expected = {"opening": ("open", "failed", "closed"), "open": ("open",),
                    "closing": ("closed",)}[phase]
        assert state in expected, (what, _view(m, pid))
        outcome += f"; pair {state}"
    _check_ledger(m, what)
    if pid is not None and _view(m, pid)["state"] != "closed":   # flat for the next cell
        _close(m, pid)
        _idle(m)
        assert _view(m, pid)["state"] == "closed", _view(m, pid)
        _check_ledger(m, what + " (after close)")
    assert abs(m.venue.perp_amt()) < 1e-9, "the account is not flat after the cell"
    OUTCOMES[f"{fault}-{phase}"] = f"{outcome} ({time.monotonic() - t0:.0f}s)"
    print(f"{what}: {OUTCOMES[f'{fault}-{phase}']}")
