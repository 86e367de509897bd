"""Deployment tests skip where a tool is missing (systemd-analyze, podman, strace, ...): say why
at the end of every run, not only under `pytest -rs`, so a skip is never mistaken for a pass."""
from __future__ import annotations

from typing import Any

HERE = "tests/deploy/"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if HERE in r.nodeid]
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        terminalreporter.write_line(f"deploy: skipped {report.nodeid}: {reason}")
