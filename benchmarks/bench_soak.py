"""RSS growth of a real daemon over N minutes of sim traffic.

`basisd run --fresh` with the default config (the embedded exchange at its configured speedup,
every component: venues, books, marks, user streams, watchdog, legging, scanner, strategy) in a
temporary working directory; its RSS (/proc/PID/status VmRSS) is sampled every few seconds.
Growth = (RSS at the end - RSS after the warm-up) / RSS after the warm-up, the warm-up being the
first fifth of the run (at most 2 minutes: books, histories, first trades). At the end the admin
socket must answer `basisctl status` (the daemon was serving, not stuck), then it is stopped
with SIGTERM.

Run: python -m benchmarks.bench_soak [--minutes M]
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_memory import ROOT


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


def measure(minutes: float, sample_s: float = 2.0) -> dict[str, Any]:
    duration = max(minutes * 60.0, 4 * sample_s)
    warm_s = min(120.0, duration / 5)
    samples: list[tuple[float, int]] = []
    with tempfile.TemporaryDirectory(prefix="basisd-soak-") as tmp:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        env.pop("BASISD_SOCKET", None)
        proc = subprocess.Popen([_bin("basisd"), "run", "--fresh"], cwd=tmp, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            sock = Path(tmp) / "run" / "basisd.sock"
            deadline = time.monotonic() + 60
            while not sock.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("bench_soak: the daemon did not start: "
                                       f"{(proc.stderr.read() if proc.stderr else b'')[-2000:]!r}")
                time.sleep(0.2)
            t0 = time.monotonic()
            while (now := time.monotonic() - t0) < duration:
                if proc.poll() is not None:
                    raise RuntimeError(f"bench_soak: the daemon exited ({proc.returncode})")
                rss = _rss_kb(proc.pid)
                if rss is not None:
                    samples.append((now, rss))
                time.sleep(min(sample_s, max(0.0, duration - now)))
            status = subprocess.run([_bin("basisctl"), "--socket", str(sock), "--json", "status"],
                                    capture_output=True, text=True, timeout=30, env=env)
            if status.returncode != 0:
                raise RuntimeError(f"bench_soak: basisctl status failed: {status.stderr[-500:]}")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    warm = [rss for t, rss in samples if t >= warm_s]
    if len(warm) < 2:
        raise RuntimeError("bench_soak: too few RSS samples after the warm-up")
    start, end = warm[0], warm[-1]
    return {"minutes": minutes, "warmup_s": warm_s, "samples": len(samples),
            "rss_start_mb": start / 1024, "rss_end_mb": end / 1024,
            "rss_max_mb": max(warm) / 1024, "growth_pct": (end - start) / start * 100.0}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=float(os.environ.get("BENCH_SIM_MINUTES", 30)))
    args = ap.parse_args(argv if argv is not None else [])
    print(measure(args.minutes))


if __name__ == "__main__":
    main(sys.argv[1:])
