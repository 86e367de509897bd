"""Reading systemd unit files as systemd does, for the tests: sections of `Key=value` lines, a
key given more than once kept in order, comments and blank lines dropped."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "systemd"


def entries(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) in file order."""
    out, section = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def values(path: Path, section: str, key: str) -> list[str]:
    return [v for s, k, v in entries(path) if s == section and k == key]


def one(path: Path, section: str, key: str) -> str:
    found = values(path, section, key)
    assert len(found) == 1, f"{path.name}: [{section}] {key} given {len(found)} times"
    return found[0]
