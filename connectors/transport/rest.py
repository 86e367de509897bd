"""Signed REST session on aiohttp, venue-neutral: what a venue says differently (signing, auth
headers, error bodies, rate-limit families and headers, server time) comes from its `RestDialect`
(Binance's: connectors/binance/rest.py).

- One keep-alive connector, opened at `open()` (and optionally warmed) so orders never pay a TCP/TLS
  handshake.
- `prepare()` builds and signs a request without I/O; `send()` writes it. The legging engine
  prepares both legs, then sends both in the same loop iteration.
- Weight limiter per endpoint family (the dialect names a path's family), fed by the venue's
  used-weight response headers: a request that would cross the budget waits for the next minute
  instead of earning a 429.
- 429: Retry-After honoured by the whole session (same IP), then retried with backoff.
- The dialect's ban status (Binance: 418): banned until Retry-After; every request raises the
  dialect's ban error without touching the network.
- Server-time offset measured at `sync_time()` and again when the dialect calls an error clock
  skew (then the request is re-signed).
Secrets are only revealed inside `prepare` (the key header) and `_sign`; no exception text carries
parameters or headers.
"""
from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import aiohttp
from yarl import URL

from connectors.transport.backoff import Backoff
from connectors.transport.http_fast import FastPool, RawResponse, Staged, WriteFuture, send_staged
from connectors.secrets import Secret

Params = Mapping[str, Any] | list[tuple[str, Any]] | None
Headers = Mapping[str, str]
# Why a request got no usable answer, for the dialect to turn into its own error type:
# no_credentials: a key or secret is missing; banned: refused locally during an IP ban;
# timeout: no answer in time; unreachable: never connected (safe to resend whatever the request);
# broken: the connection failed after the request may have been written.
Failure = Literal["no_credentials", "banned", "timeout", "unreachable", "broken"]


class RestDialect(Protocol):
    """What a venue's REST API says its own way. Every failed request raises an error built
    here, an instance of `error_type`."""

    error_type: type[Exception]
    weight_limits: Mapping[str, int]      # family -> request weight per minute
    ban_status: int                       # the HTTP status meaning "IP banned until Retry-After"

    def family(self, path: str) -> str:
        """The rate-limit family of a path (each has its own weight budget)."""
        ...

    def used_weight(self, headers: Headers) -> int | None:
        """The venue's count of the weight used this minute, if the response carries it."""
        ...

    def auth_headers(self, api_key: str) -> dict[str, str]:
        ...

    def encode(self, items: list[tuple[str, Any]]) -> str:
        """The query string or form body of an unsigned request, exactly as it is sent."""
        ...

    def sign(self, items: list[tuple[str, Any]], *, secret: str, timestamp_ms: int,
             recv_window_ms: int) -> str:
        """The signed query string or form body, exactly the bytes that were signed."""
        ...

    def error_from_response(self, status: int, reason: str, body: bytes, *, method: str,
                            path: str, idempotent: bool,
                            retry_after_s: float | None) -> Exception:
        ...

    def failure(self, kind: Failure, detail: str, *, method: str, path: str, idempotent: bool,
                retry_after_s: float | None = None) -> Exception:
        ...

    def is_retryable(self, error: Exception) -> bool:
        """The one retry decision: may the SAME request be sent again?"""
        ...

    def is_clock_skew(self, error: Exception) -> bool:
        """Rejected for its timestamp: re-measure the server clock, then re-sign."""
        ...

    def retry_after_s(self, error: Exception) -> float | None:
        ...

    def server_time_ms(self, body: bytes) -> int:
        """The server's clock from the body of its time endpoint."""
        ...


class HeaderSigning(Protocol):
    """Optional on a `RestDialect` (OKX): the signature travels in headers, not in the payload.
    A dialect with `sign_headers` has its payload built by `encode_for` (query string for a GET,
    the body, of `content_type`, for a POST) and sent exactly as signed."""

    content_type: str

    def encode_for(self, method: str, items: list[tuple[str, Any]]) -> str:
        ...

    def sign_headers(self, method: str, request_path: str, body: str, *, secret: str,
                     timestamp_ms: int) -> dict[str, str]:
        """The signing headers; `request_path` includes the query string of a GET."""
        ...


class BodyErrors(Protocol):
    """Optional on a `RestDialect` (Bybit): a refusal can come inside a 2xx body (Bybit answers
    HTTP 200 with a non-zero `retCode`); `error_in_body` finds it, None when the body is fine."""

    def error_in_body(self, status: int, body: bytes, *, method: str, path: str,
                      idempotent: bool) -> Exception | None:
        ...


@dataclass
class WeightLimiter:
    """Per-family request-weight budget in fixed 1-minute windows (pure; time passed in)."""

    limits: dict[str, int] = field(default_factory=dict)
    headroom: float = 0.9      # stay below the limit: other clients on the same IP count too
    default_limit: int = 1200  # a family the limits do not name
    used: dict[str, int] = field(default_factory=dict)
    window: dict[str, int] = field(default_factory=dict)

    def _roll(self, fam: str, now_s: float) -> None:
        minute = int(now_s // 60)
        if self.window.get(fam) != minute:
            self.window[fam] = minute
            self.used[fam] = 0

    def delay_for(self, fam: str, weight: int, now_s: float) -> float:
        """Seconds to wait before a request of `weight` fits (0 if it fits now). Reserves it."""
        self._roll(fam, now_s)
        budget = int(self.limits.get(fam, self.default_limit) * self.headroom)
        if self.used[fam] + weight <= budget:
            self.used[fam] += weight
            return 0.0
        return (math.floor(now_s / 60) + 1) * 60 - now_s + 0.05

    def observe(self, fam: str, used: int, now_s: float) -> None:
        """The venue's own count wins (it includes requests we did not see)."""
        self._roll(fam, now_s)
        self.used[fam] = max(self.used[fam], used)


@dataclass(slots=True)
class Prepared:
    """A built and signed request, ready to write."""

    method: str
    url: URL
    body: bytes | None
    headers: Mapping[str, str]
    path: str
    weight: int
    idempotent: bool
    signed: bool
    params: tuple[tuple[str, Any], ...]
    client_id: str | None = None


class RestSession:
    def __init__(self, dialect: RestDialect, *, api_key: Secret | None = None,
                 api_secret: Secret | None = None, recv_window_ms: int = 5000,
                 timeout_s: float = 10.0, backoff: Callable[[], Backoff] = Backoff,
                 max_retries: int = 4, limiter: WeightLimiter | None = None,
                 clock: Callable[[], float] = time.time, fast_pool_size: int = 2) -> None:
        self.dialect = dialect
        self._api_key = api_key
        self._api_secret = api_secret
        self.recv_window_ms = recv_window_ms
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._backoff = backoff
        self.max_retries = max_retries
        self.limiter = limiter or WeightLimiter(dict(dialect.weight_limits))
        self.clock = clock
        self.offsets_ms: dict[str, int] = {}     # base url -> server minus local clock
        self.time_paths: dict[str, str] = {}     # base url -> its time endpoint
        self.banned_until = 0.0                  # ban status: wall clock seconds
        self.paused_until = 0.0                  # 429: wall clock seconds
        self.requests_sent = 0
        self.status_counts: dict[int, int] = {}
        self._session: aiohttp.ClientSession | None = None
        # Pre-opened keep-alive connections for requests that must leave before the caller
        # returns (send_now); opened per base URL by open_fast().
        self.fast = FastPool(fast_pool_size)

    # -- lifecycle -----------------------------------------------------------------------------
    async def open(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=64, keepalive_timeout=60, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout,
                                                  skip_auto_headers=("User-Agent",))

    async def open_fast(self, base: str) -> None:
        """Open the synchronous-write pool's connections to `base` (see send_now)."""
        await self.fast.open(base)

    async def close(self) -> None:
        await self.fast.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def sync_time(self, base: str, path: str) -> int:
        """Measure server minus local clock (ms) against `base+path`, the venue's time endpoint."""
        self.time_paths[base] = path
        t0 = self.clock()
        raw = await self.request("GET", base, path, weight=1, _resync=False)
        t1 = self.clock()
        server = self.dialect.server_time_ms(raw)
        offset = int(server - (t0 + t1) * 500)
        self.offsets_ms[base] = offset
        return offset

    def now_ms(self, base: str) -> int:
        return int(self.clock() * 1000) + self.offsets_ms.get(base, 0)

    # -- building ------------------------------------------------------------------------------
    def prepare(self, method: str, base: str, path: str, params: Params = None, *,
                signed: bool = False, api_key: bool = False, weight: int = 1,
                idempotent: bool | None = None, client_id: str | None = None) -> Prepared:
        """Build (and sign) a request without I/O. GET/DELETE carry params in the query string,
        POST/PUT in a form body, exactly the bytes that were signed."""
        given = tuple(params.items() if isinstance(params, Mapping) else (params or ()))
        items = [(k, v) for k, v in given if v is not None]
        headers: dict[str, str] = {}
        if signed or api_key:
            if self._api_key is None:     # nothing was sent: idempotent whatever the method
                raise self.dialect.failure("no_credentials", "no API key configured",
                                           method=method, path=path, idempotent=True)
            headers.update(self.dialect.auth_headers(self._api_key.reveal()))
        header_signer = getattr(self.dialect, "sign_headers", None)
        in_body = method in ("POST", "PUT")
        if header_signer is not None:
            # The venue signs in headers (see `HeaderSigning`): the payload is sent unchanged.
            payload = self.dialect.encode_for(method, items)
            if signed:
                target = path if in_body or not payload else f"{path}?{payload}"
                headers.update(header_signer(
                    method, target, payload if in_body else "", secret=self._secret(method, path),
                    timestamp_ms=self.now_ms(base)))
        else:
            payload = self._sign(items, base, method, path) if signed else \
                self.dialect.encode(items)
        body: bytes | None = None
        url = base + path
        if in_body and payload:
            body = payload.encode()
            headers["Content-Type"] = getattr(self.dialect, "content_type",
                                              "application/x-www-form-urlencoded")
        elif payload:
            url = f"{url}?{payload}"
        return Prepared(method, URL(url, encoded=True), body, headers, path, weight,
                        method in ("GET",) if idempotent is None else idempotent, signed,
                        given, client_id)

    def _secret(self, method: str, path: str) -> str:
        if self._api_secret is None:
            raise self.dialect.failure("no_credentials", "no API secret configured",
                                       method=method, path=path, idempotent=True)
        return self._api_secret.reveal()

    def _sign(self, items: list[tuple[str, Any]], base: str, method: str, path: str) -> str:
        return self.dialect.sign(items, secret=self._secret(method, path),
                                 timestamp_ms=self.now_ms(base), recv_window_ms=self.recv_window_ms)

    # -- sending -------------------------------------------------------------------------------
    async def send(self, prep: Prepared) -> bytes:
        """Write one prepared request once. Raises the dialect's typed error; never retries."""
        dialect = self.dialect
        fam = dialect.family(prep.path)
        now = self.clock()
        if now < self.banned_until:
            raise dialect.failure("banned", f"IP banned for {self.banned_until - now:.0f}s more",
                                  method=prep.method, path=prep.path, idempotent=prep.idempotent,
                                  retry_after_s=self.banned_until - now)
        while True:
            now = self.clock()
            wait = max(self.paused_until - now, self.limiter.delay_for(fam, prep.weight, now))
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        session = self._session
        if session is None:
            raise RuntimeError("RestSession.open() was not called")
        self.requests_sent += 1
        try:
            async with session.request(prep.method, prep.url, data=prep.body,
                                       headers=prep.headers) as resp:
                raw = await resp.read()
                self.status_counts[resp.status] = self.status_counts.get(resp.status, 0) + 1
                self._observe(resp, fam)
                if resp.status < 400:
                    return self._checked(resp.status, raw, prep)
                raise self._error(resp, raw, prep)
        except TimeoutError:
            raise self._failure("timeout", "request timed out", prep) from None
        except aiohttp.ClientConnectorError:
            # never reached the venue: safe to send again whatever the request
            raise self._failure("unreachable", "connect failed", prep) from None
        except aiohttp.ClientError as exc:
            raise self._failure("broken", type(exc).__name__, prep) from None

    def send_now(self, prep: Prepared) -> WriteFuture:
        """Write `prep` before returning, on an idle pre-opened connection, when the ban, the
        429 pause and the weight budget allow it now; else fall back to `send` (a task: the bytes
        leave a pass later, `written_ns` stays 0 until then). The future resolves to the body or
        raises the same typed error as `send`; never retries."""
        return send_staged(self.stage_now(prep))

    def stage_now(self, prep: Prepared) -> Staged:
        """`send_now` up to the write: `.write()` on the result puts the bytes on the wire (or
        starts the fallback), `.answer()` is the future `send_now` returns."""
        loop = asyncio.get_running_loop()
        out = WriteFuture(loop=loop)
        fam = self.dialect.family(prep.path)
        now = self.clock()
        conn_free = (self._session is not None and now >= self.banned_until
                     and now >= self.paused_until)
        staged = None
        if conn_free and self.fast.take_possible(prep.url) and \
                self.limiter.delay_for(fam, prep.weight, now) == 0.0:
            staged = self.fast.stage(prep.method, prep.url, prep.headers, prep.body,
                                     self.timeout.total or 10.0,
                                     lambda: self._failure("timeout", "request timed out", prep))

        def fall_back() -> None:
            self.fast.fallbacks += 1
            task = loop.create_task(self.send(prep))
            task.add_done_callback(lambda t: _chain(t, out))
        if staged is None:
            return Staged(out, None, fall_back)

        def done(w: asyncio.Future[RawResponse]) -> None:
            if out.done() or w.cancelled():     # cancelled: it fell back, `send` answers
                return
            exc = w.exception()
            if exc is not None:
                if not isinstance(exc, self.dialect.error_type):
                    # the request was written: a broken connection leaves its outcome unknown
                    exc = self._failure("broken", type(exc).__name__, prep)
                out.set_exception(exc)
                return
            resp = w.result()
            self.status_counts[resp.status] = self.status_counts.get(resp.status, 0) + 1
            self._observe(resp, fam)
            if resp.status < 400:
                try:
                    out.set_result(self._checked(resp.status, resp.body, prep))
                except Exception as exc:
                    out.set_exception(exc)
            else:
                out.set_exception(self._error(resp, resp.body, prep))
        staged[2].add_done_callback(done)
        return Staged(out, staged, fall_back, self._count_sent)

    def _count_sent(self) -> None:
        self.requests_sent += 1

    def _observe(self, resp: aiohttp.ClientResponse | RawResponse, fam: str) -> None:
        used = self.dialect.used_weight(resp.headers)
        if used is not None:
            self.limiter.observe(fam, used, self.clock())

    def _checked(self, status: int, raw: bytes, prep: Prepared) -> bytes:
        """The body of a 2xx answer, or the refusal a `BodyErrors` dialect finds in it."""
        check = getattr(self.dialect, "error_in_body", None)
        if check is not None:
            err = check(status, raw, method=prep.method, path=prep.path,
                        idempotent=prep.idempotent)
            if err is not None:
                raise err
        return raw

    def _failure(self, kind: Failure, detail: str, prep: Prepared) -> Exception:
        return self.dialect.failure(kind, detail, method=prep.method, path=prep.path,
                                    idempotent=prep.idempotent)

    def _error(self, resp: aiohttp.ClientResponse | RawResponse, raw: bytes,
               prep: Prepared) -> Exception:
        retry_after: float | None = None
        header = resp.headers.get("Retry-After")
        if header is not None:
            try:
                retry_after = float(header)
            except ValueError:
                retry_after = None
        now = self.clock()
        if resp.status == self.dialect.ban_status:
            self.banned_until = now + (retry_after if retry_after is not None else 120.0)
        elif resp.status == 429:
            self.paused_until = max(self.paused_until,
                                    now + (retry_after if retry_after is not None else 1.0))
        return self.dialect.error_from_response(resp.status, resp.reason or "", raw,
                                                method=prep.method, path=prep.path,
                                                idempotent=prep.idempotent,
                                                retry_after_s=retry_after)

    async def request(self, method: str, base: str, path: str, params: Params = None, *,
                      signed: bool = False, api_key: bool = False, weight: int = 1,
                      idempotent: bool | None = None, _resync: bool = True) -> bytes:
        """prepare + send with the one retry policy: retry only what the dialect's
        `is_retryable` allows, after Retry-After / backoff; on a clock skew re-measure the clock
        and re-sign."""
        dialect = self.dialect
        backoff = self._backoff()
        attempt = 0
        while True:
            prep = self.prepare(method, base, path, params, signed=signed, api_key=api_key,
                                weight=weight, idempotent=idempotent)
            try:
                return await self.send(prep)
            except dialect.error_type as err:
                attempt += 1
                if not dialect.is_retryable(err) or attempt > self.max_retries:
                    raise
                if dialect.is_clock_skew(err) and _resync and base in self.time_paths:
                    await self.sync_time(base, self.time_paths[base])
                    continue
                await asyncio.sleep(backoff.delay_at_least(dialect.retry_after_s(err) or 0.0))


def _chain(task: asyncio.Task[bytes], out: asyncio.Future[bytes]) -> None:
    if out.done():
        return
    if task.cancelled():
        out.cancel()
    elif task.exception() is not None:
        out.set_exception(task.exception())  # type: ignore[arg-type]
    else:
        out.set_result(task.result())
