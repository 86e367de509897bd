"""OKX errors as one type with its code, the ONE retry decision (`is_retryable`) and the ONE
classifier the legging engine acts on (`error_kind`).

OKX answers a failed request with a string `code` (and for a trade request a per-order `sCode`,
the more precise of the two: an order refused for balance comes back as code "1", sCode "51008").
`OkxError.code` is the most precise code known. Messages never contain request parameters or
headers, so a secret cannot leak through an exception.
"""
from __future__ import annotations

from connectors.okx import constants as C
from connectors.types import ErrorKind


class OkxError(Exception):
    def __init__(self, http_status: int, code: str, msg: str, *, method: str = "",
                 path: str = "", idempotent: bool = True, retry_after_s: float | None = None,
                 unknown_outcome: bool = False) -> None:
        self.http_status = http_status
        self.code = code
        self.msg = msg
        self.method = method
        self.path = path
        self.idempotent = idempotent
        self.retry_after_s = retry_after_s
        # the venue may have executed it (timeout, 5xx or a broken connection on a write)
        self.unknown_outcome = unknown_outcome
        super().__init__(f"{method} {path}: HTTP {http_status} code {code}: {msg}".strip())


def error_from_body(http_status: int, code: str, msg: str, *, s_code: str = "",
                    s_msg: str = "", method: str = "", path: str = "", idempotent: bool = True,
                    retry_after_s: float | None = None) -> OkxError:
    precise = s_code if s_code and s_code != C.OK else code
    unknown = (http_status >= 500 or precise in C.UNKNOWN_OUTCOME_CODES) and not idempotent
    return OkxError(http_status, precise, s_msg or msg, method=method, path=path,
                    idempotent=idempotent, retry_after_s=retry_after_s, unknown_outcome=unknown)


def is_retryable(error: BaseException) -> bool:
    """May the SAME request be sent again (after backoff)? Never for an unknown outcome."""
    if not isinstance(error, OkxError) or error.unknown_outcome:
        return False
    if error.code in C.RETRY_CODES or error.http_status == 429:
        return True
    return error.http_status >= 500 or (error.http_status == 0 and error.code == "timeout")


def error_kind(error: BaseException) -> ErrorKind:
    """How the legging engine acts on a failed request (connectors.types.ErrorKind)."""
    if isinstance(error, TimeoutError):
        return "unknown"
    if isinstance(error, OkxError):
        if error.unknown_outcome:
            return "unknown"
        if error.code == C.POST_ONLY_WOULD_TAKE:
            return "postonly"
        if is_retryable(error):
            return "retry"
        if error.code in C.BLOCKING_CODES or 400 <= error.http_status < 500:
            return "block"
        return "error"
    if isinstance(error, (ConnectionError, OSError)):
        return "unknown"
    return "error"
