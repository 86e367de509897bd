"""Secrets: never config values, never printed.

API keys come from the environment or from a credentials directory (systemd's LoadCredential sets
$CREDENTIALS_DIRECTORY). They are wrapped in `Secret`, whose repr/str is `***`, and every value
loaded is registered so the log redactor can scrub it even from free text.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

_KNOWN: set[str] = set()


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= 6:
            _KNOWN.add(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


class MissingSecret(LookupError):
    pass


def known_secret_values() -> frozenset[str]:
    return frozenset(_KNOWN)


def env_name(credential: str, part: str) -> str:
    """`binance-main`, `api_key` -> `BASISD_BINANCE_MAIN_API_KEY`."""
    return "BASISD_" + re.sub(r"[^A-Za-z0-9]", "_", f"{credential}_{part}").upper()


def load_secret(credential: str, part: str, environ: dict[str, str] | None = None) -> Secret:
    """Environment first (`BASISD_<CREDENTIAL>_<PART>`), then `$CREDENTIALS_DIRECTORY/<credential>.<part>`."""
    env = os.environ if environ is None else environ
    name = env_name(credential, part)
    value = env.get(name)
    if value:
        return Secret(value.strip())
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    if cred_dir:
        path = Path(cred_dir) / f"{credential}.{part}"
        if path.is_file():
            return Secret(path.read_text().strip())
    where = f"${name}" + (f" or {cred_dir}/{credential}.{part}" if cred_dir else "")
    raise MissingSecret(f"credential {credential!r} part {part!r} not found (looked in {where})")
