"""RSS growth of a real daemon over N minutes of sim traffic.

`basisd run` with the embedded default's configuration (every component: venues, books, marks,
user streams, watchdog, legging, scanner, strategy, dashboard) against the default's four venues
served by a separate `basisd sim` process at the same seed, scenario and speedup, so the RSS
measured (/proc/PID/status VmRSS, sampled every few seconds) is the daemon's own; the exchange's
is reported beside it. Growth = (RSS at the end - RSS after the warm-up) / RSS after the warm-up,
the warm-up being the first fifth of the run (at most 2 minutes: books, histories, first trades).
At the end the admin socket must answer `basisctl status` (the daemon was serving, not stuck),
then both are stopped with SIGTERM.

Run: python -m benchmarks.bench_soak [--minutes M]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_memory import ROOT
from connectors.secrets import env_name


def _rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _blocks(toml_text: str) -> list[tuple[str, str]]:
    """(header, text) of each top-level table of a TOML file ("" for what precedes the first)."""
    out: list[tuple[str, str]] = []
    header, lines = "", []
    for line in toml_text.splitlines(keepends=True):
        if line.startswith("["):
            out.append((header, "".join(lines)))
            header, lines = line.strip(), []
        lines.append(line)
    out.append((header, "".join(lines)))
    return out


def _toml_str(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_configs(tmp: Path) -> tuple[Path, Path, dict[str, tuple[str, ...]]]:
    """The embedded default split in two: a `basisd sim` config with the default's venues,
    scenario, seed and speedup (daemon/wiring.sim_config_for), and the default daemon config with
    those venues as `external_sim` (URLs and keys filled in later from the sim's lines)."""
    from daemon.config import load_config
    from daemon.wiring import sim_config_for

    default = ROOT / "daemon" / "default.toml"
    sim_cfg = sim_config_for(load_config(str(default)))
    sim_toml = tmp / "sim.toml"
    parts = [f"seed = {sim_cfg.seed}\n"]
    for v in sim_cfg.venues:
        parts.append(f"\n[[venues]]\nname = {_toml_str(v.name)}\ndialect = {_toml_str(v.dialect)}\n"
                     f"symbols = [{', '.join(_toml_str(x) for x in v.symbols)}]\n"
                     f"scenario = {_toml_str(v.scenario)}\nspeedup = {v.speedup}\n")
    sim_toml.write_text("".join(parts))
    kept = [text for header, text in _blocks(default.read_text())
            if header not in ("[sim]", "[[venues]]")]
    daemon_toml = tmp / "basisd.toml"
    daemon_toml.write_text("".join(kept).replace('state_dir = "state"', f'state_dir = "{tmp / "state"}"')
                           .replace('socket = "run/basisd.sock"', f'socket = "{tmp / "b.sock"}"')
                           .replace("port = 8470", "port = 0"))
    return sim_toml, daemon_toml, {v.name: v.symbols for v in sim_cfg.venues}


def venue_block(line: dict[str, str], credential: str, symbols: tuple[str, ...]) -> str:
    """The daemon's [[venues]] entry for one of the sim's venue lines."""
    return (f"\n[[venues]]\nname = {_toml_str(line['venue'])}\nkind = {_toml_str(line['dialect'])}\n"
            f"external_sim = true\ncredentials = {_toml_str(credential)}\n"
            f"symbols = [{', '.join(_toml_str(x) for x in symbols)}]\n"
            f"rest_url = {_toml_str(line['rest'])}\nfutures_rest_url = {_toml_str(line['rest'])}\n"
            f"spot_ws_url = {_toml_str(line['spot_ws'])}\n"
            f"futures_ws_url = {_toml_str(line['futures_ws'])}\n")


def _sample(procs: dict[str, subprocess.Popen[bytes]], samples: dict[str, list[tuple[float, int]]],
            now: float) -> None:
    for name, proc in procs.items():
        if proc.poll() is not None:
            raise RuntimeError(f"bench_soak: the {name} exited ({proc.returncode})")
        rss = _rss_kb(proc.pid)
        if rss is not None:
            samples[name].append((now, rss))


def _growth(samples: list[tuple[float, int]], warm_s: float) -> dict[str, float]:
    warm = [rss for t, rss in samples if t >= warm_s]
    if len(warm) < 2:
        raise RuntimeError("bench_soak: too few RSS samples after the warm-up")
    start, end = warm[0], warm[-1]
    return {"samples": len(warm), "rss_start_mb": start / 1024, "rss_end_mb": end / 1024,
            "rss_max_mb": max(warm) / 1024, "growth_pct": (end - start) / start * 100.0}


def measure(minutes: float, sample_s: float = 2.0) -> dict[str, Any]:
    """The daemon (`basisd run`, the default config's components and strategy) against the
    default's venues served by a separate `basisd sim` process, so the daemon's RSS is its own:
    the exchange keeps every order, trade and ledger entry of its accounts, as a venue does, and
    grows with the traffic (reported beside it as `exchange`)."""
    duration = max(minutes * 60.0, 4 * sample_s)
    warm_s = min(120.0, duration / 5)
    samples: dict[str, list[tuple[float, int]]] = {"daemon": [], "exchange": []}
    with tempfile.TemporaryDirectory(prefix="basisd-soak-") as tmp_name:
        tmp = Path(tmp_name)
        sim_toml, daemon_toml, symbols = write_configs(tmp)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        env.pop("BASISD_SOCKET", None)
        procs: dict[str, subprocess.Popen[bytes]] = {}
        try:
            procs["exchange"] = sim = subprocess.Popen(
                [_bin("basisd"), "sim", "--config", str(sim_toml), "--state-dir",
                 str(tmp / "sim-state"), "--fresh"], cwd=tmp, env=env, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL)
            assert sim.stdout is not None
            blocks = []
            for i in range(len(symbols)):
                raw = sim.stdout.readline()
                if not raw:
                    raise RuntimeError("bench_soak: `basisd sim` exited before naming its venues")
                line = json.loads(raw)
                cred = f"soak{i}"
                env[env_name(cred, "api_key")] = line["api_key"]
                env[env_name(cred, "api_secret")] = line["api_secret"]
                if line.get("passphrase"):
                    env[env_name(cred, "api_passphrase")] = line["passphrase"]
                blocks.append(venue_block(line, cred, symbols[line["venue"]]))
            with daemon_toml.open("a") as f:
                f.write("".join(blocks))
            procs["daemon"] = proc = subprocess.Popen(
                [_bin("basisd"), "run", "--config", str(daemon_toml)], cwd=tmp, env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            sock = tmp / "b.sock"
            deadline = time.monotonic() + 60
            while not sock.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("bench_soak: the daemon did not start: "
                                       f"{(proc.stderr.read() if proc.stderr else b'')[-2000:]!r}")
                time.sleep(0.2)
            t0 = time.monotonic()
            while (now := time.monotonic() - t0) < duration:
                _sample(procs, samples, now)
                time.sleep(min(sample_s, max(0.0, duration - now)))
            status = subprocess.run([_bin("basisctl"), "--socket", str(sock), "--json", "status"],
                                    capture_output=True, text=True, timeout=30, env=env)
            if status.returncode != 0:
                raise RuntimeError(f"bench_soak: basisctl status failed: {status.stderr[-500:]}")
        finally:
            for p in procs.values():
                p.send_signal(signal.SIGTERM)
            for p in procs.values():
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    daemon = _growth(samples["daemon"], warm_s)
    return {"minutes": minutes, "warmup_s": warm_s, **daemon,
            "exchange": _growth(samples["exchange"], warm_s)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=float(os.environ.get("BENCH_SIM_MINUTES", 30)))
    args = ap.parse_args(argv if argv is not None else [])
    print(measure(args.minutes))


if __name__ == "__main__":
    main(sys.argv[1:])
