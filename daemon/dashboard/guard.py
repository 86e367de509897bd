"""Who may use the dashboard, as pure rules (server.py applies them to each request).

* Host: every request's Host header must name this server (the bound address, or localhost /
  127.0.0.1 / [::1] at the bound port, or a configured `allowed_hosts` entry), so a page on
  another site cannot reach it by pointing its own DNS name at 127.0.0.1 (DNS rebinding).
* Access token (when configured): a cookie set by `/?token=...`, or `Authorization: Bearer`.
* Actions: the per-process CSRF token from the page in the `X-Basisd-CSRF` header, and an
  `Origin` equal to `http://` + an accepted host. A cross-site form or fetch can send neither.
"""
from __future__ import annotations

import hmac
from collections.abc import Iterable

CSRF_HEADER = "X-Basisd-CSRF"
TOKEN_COOKIE = "basisd_dashboard"
_LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")
_ANY = ("0.0.0.0", "::", "")


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def accepted_hosts(bind_host: str, port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """Host header values that name this server (lower case, with the port)."""
    names = set(_LOCAL_NAMES)
    if bind_host not in _ANY:
        names.add(_bracket(bind_host))
    out = {f"{n}:{port}".lower() for n in names}
    if port == 80:
        out |= {n.lower() for n in names}
    out |= {h.lower() for h in extra}
    return frozenset(out)


def same(expected: str, given: str | None) -> bool:
    """Constant-time comparison; an absent value never matches."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def host_ok(host_header: str | None, accepted: frozenset[str]) -> bool:
    return host_header is not None and host_header.lower() in accepted


def bearer(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def access_ok(token: str | None, cookie: str | None, authorization: str | None) -> bool:
    """No token configured: open (loopback only, config check enforces it); else either form."""
    if token is None:
        return True
    return same(token, cookie) or same(token, bearer(authorization))


def action_refusal(*, csrf: str, given_csrf: str | None, origin: str | None,
                   accepted: frozenset[str]) -> str | None:
    """Why an action request is refused (None: allowed)."""
    if origin is None:
        return "missing Origin header"
    scheme, _, host = origin.partition("://")
    if scheme != "http" or host.lower() not in accepted:
        return f"cross-origin request refused (Origin {origin[:100]!r})"
    if not same(csrf, given_csrf):
        return f"missing or wrong {CSRF_HEADER} header (reload the dashboard page)"
    return None
