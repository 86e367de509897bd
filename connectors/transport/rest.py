"""Signed REST session on aiohttp, shared by venue connectors speaking Binance's REST dialect.

- One keep-alive connector, opened at `open()` (and optionally warmed) so orders never pay a TCP/TLS
  handshake.
- `prepare()` builds and signs a request without I/O; `send()` writes it. The legging engine
  prepares both legs, then sends both in the same loop iteration.
- Weight limiter per endpoint family (/api, /sapi, /fapi), fed by the venue's
  `X-MBX-USED-WEIGHT-1M` / `X-SAPI-USED-*-WEIGHT-1M` headers: a request that would cross the
  budget waits for the next minute instead of earning a 429.
- 429: Retry-After honoured by the whole session (same IP), then retried with backoff.
- 418: banned until Retry-After; every request raises `IpBanned` without touching the network.
- Server-time offset measured at `sync_time()` and again on -1021 (then the request is re-signed).
Secrets are only revealed inside `_sign`; no exception text carries parameters or headers.
"""
from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

from connectors.transport.backoff import Backoff
from connectors.binance import errors as E
from connectors.binance import schemas
from connectors.binance.signing import hmac_sha256_hex, rest_payload
from connectors.transport.http_fast import FastPool, RawResponse, WriteFuture
from connectors.secrets import Secret

_WEIGHT_HEADERS = ("X-MBX-USED-WEIGHT-1M", "X-SAPI-USED-IP-WEIGHT-1M")


def family(path: str) -> str:
    """Rate-limit family of a path: 'api', 'sapi' or 'fapi' (each has its own budget)."""
    return path.split("/", 2)[1] if path.startswith("/") else "api"


@dataclass
class WeightLimiter:
    """Per-family request-weight budget in Binance's fixed 1-minute windows (pure; time passed in)."""

    limits: dict[str, int] = field(default_factory=lambda: {"api": 6000, "sapi": 12000,
                                                            "fapi": 2400})
    headroom: float = 0.9      # stay below the limit: other clients on the same IP count too
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
        budget = int(self.limits.get(fam, 1200) * self.headroom)
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
    def __init__(self, *, api_key: Secret | None = None, api_secret: Secret | None = None,
                 recv_window_ms: int = 5000, timeout_s: float = 10.0,
                 backoff: Callable[[], Backoff] = Backoff, max_retries: int = 4,
                 limiter: WeightLimiter | None = None,
                 clock: Callable[[], float] = time.time, fast_pool_size: int = 2) -> None:
        self._api_key = api_key
        self._api_secret = api_secret
        self.recv_window_ms = recv_window_ms
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._backoff = backoff
        self.max_retries = max_retries
        self.limiter = limiter or WeightLimiter()
        self.clock = clock
        self.offsets_ms: dict[str, int] = {}     # base url -> server minus local clock
        self.time_paths: dict[str, str] = {}     # base url -> its /time endpoint
        self.banned_until = 0.0                  # 418: wall clock seconds
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
        """Measure server minus local clock (ms) against `base+path` (e.g. /api/v3/time)."""
        self.time_paths[base] = path
        t0 = self.clock()
        raw = await self.request("GET", base, path, weight=1, _resync=False)
        t1 = self.clock()
        server = schemas.SERVER_TIME.decode(raw).serverTime
        offset = int(server - (t0 + t1) * 500)
        self.offsets_ms[base] = offset
        return offset

    def now_ms(self, base: str) -> int:
        return int(self.clock() * 1000) + self.offsets_ms.get(base, 0)

    # -- building ------------------------------------------------------------------------------
    def prepare(self, method: str, base: str, path: str,
                params: Mapping[str, Any] | list[tuple[str, Any]] | None = None, *,
                signed: bool = False, api_key: bool = False, weight: int = 1,
                idempotent: bool | None = None, client_id: str | None = None) -> Prepared:
        """Build (and sign) a request without I/O. GET/DELETE carry params in the query string,
        POST/PUT in a form body, exactly the bytes that were signed."""
        items = list(params.items() if isinstance(params, Mapping) else (params or ()))
        items = [(k, v) for k, v in items if v is not None]
        headers: dict[str, str] = {}
        if signed or api_key:
            if self._api_key is None:
                raise E.BadRequest(0, 0, "no API key configured", method=method, path=path)
            headers["X-MBX-APIKEY"] = self._api_key.reveal()
        if signed:
            items.append(("recvWindow", self.recv_window_ms))
            items.append(("timestamp", self.now_ms(base)))
            payload = rest_payload(items)
            payload = f"{payload}&signature={self._sign(payload, method, path)}"
        else:
            payload = rest_payload(items)
        body: bytes | None = None
        url = base + path
        if method in ("POST", "PUT") and payload:
            body = payload.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif payload:
            url = f"{url}?{payload}"
        return Prepared(method, URL(url, encoded=True), body, headers, path, weight,
                        method in ("GET",) if idempotent is None else idempotent, signed,
                        tuple(params.items() if isinstance(params, Mapping) else (params or ())),
                        client_id)

    def _sign(self, payload: str, method: str, path: str) -> str:
        if self._api_secret is None:
            raise E.BadRequest(0, 0, "no API secret configured", method=method, path=path)
        return hmac_sha256_hex(self._api_secret.reveal(), payload)

    # -- sending -------------------------------------------------------------------------------
    async def send(self, prep: Prepared) -> bytes:
        """Write one prepared request once. Raises a typed `BinanceError`; never retries."""
        fam = family(prep.path)
        now = self.clock()
        if now < self.banned_until:
            raise E.IpBanned(418, -1003, f"IP banned for {self.banned_until - now:.0f}s more",
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
                    return raw
                raise self._error(resp, raw, prep)
        except TimeoutError:
            raise E.timeout_error(method=prep.method, path=prep.path,
                                  idempotent=prep.idempotent) from None
        except aiohttp.ClientConnectorError:
            # never reached the venue: safe to send again whatever the request
            raise E.ServerBusy(0, 0, "connect failed", method=prep.method, path=prep.path,
                               idempotent=prep.idempotent) from None
        except aiohttp.ClientError as exc:
            cls = E.ServerError if prep.idempotent else E.UnknownOutcome
            raise cls(0, 0, type(exc).__name__, method=prep.method, path=prep.path,
                      idempotent=prep.idempotent) from None

    def send_now(self, prep: Prepared) -> WriteFuture:
        """Write `prep` before returning, on an idle pre-opened connection, when the ban, the
        429 pause and the weight budget allow it now; else fall back to `send` (a task: the bytes
        leave a pass later, `written_ns` stays 0 until then). The future resolves to the body or
        raises the same typed `BinanceError` as `send`; never retries."""
        loop = asyncio.get_running_loop()
        out = WriteFuture(loop=loop)
        fam = family(prep.path)
        now = self.clock()
        conn_free = self._session is not None and now >= self.banned_until and now >= self.paused_until
        waiter = None
        if conn_free and self.fast.take_possible(prep.url) and \
                self.limiter.delay_for(fam, prep.weight, now) == 0.0:
            waiter = self.fast.write(prep.method, prep.url, prep.headers, prep.body,
                                     self.timeout.total or 10.0,
                                     lambda: E.timeout_error(method=prep.method, path=prep.path,
                                                             idempotent=prep.idempotent))
        if waiter is None:
            self.fast.fallbacks += 1
            task = loop.create_task(self.send(prep))
            task.add_done_callback(lambda t: _chain(t, out))
            return out
        out.written_ns = time.perf_counter_ns()
        self.requests_sent += 1

        def done(w: asyncio.Future[RawResponse]) -> None:
            if out.done():
                return
            exc = w.exception()
            if exc is not None:
                if not isinstance(exc, E.BinanceError):
                    # the request was written: a broken connection leaves its outcome unknown
                    cls = E.ServerError if prep.idempotent else E.UnknownOutcome
                    exc = cls(0, 0, type(exc).__name__, method=prep.method, path=prep.path,
                              idempotent=prep.idempotent)
                out.set_exception(exc)
                return
            resp = w.result()
            self.status_counts[resp.status] = self.status_counts.get(resp.status, 0) + 1
            self._observe(resp, fam)
            if resp.status < 400:
                out.set_result(resp.body)
            else:
                out.set_exception(self._error(resp, resp.body, prep))
        waiter.add_done_callback(done)
        return out

    def _observe(self, resp: aiohttp.ClientResponse | RawResponse, fam: str) -> None:
        for name in _WEIGHT_HEADERS:
            value = resp.headers.get(name)
            if value is not None and value.isdigit():
                self.limiter.observe(fam, int(value), self.clock())
                return

    def _error(self, resp: aiohttp.ClientResponse | RawResponse, raw: bytes,
               prep: Prepared) -> E.BinanceError:
        retry_after: float | None = None
        header = resp.headers.get("Retry-After")
        if header is not None:
            try:
                retry_after = float(header)
            except ValueError:
                retry_after = None
        code, msg = 0, resp.reason or ""
        try:
            err = schemas.API_ERROR.decode(raw)
            code, msg = err.code, err.msg
        except Exception:  # non-JSON error page (proxies, 5xx)
            pass
        now = self.clock()
        if resp.status == 418:
            self.banned_until = now + (retry_after if retry_after is not None else 120.0)
        elif resp.status == 429:
            self.paused_until = max(self.paused_until,
                                    now + (retry_after if retry_after is not None else 1.0))
        return E.error_from_response(resp.status, code, msg, method=prep.method, path=prep.path,
                                     idempotent=prep.idempotent, retry_after_s=retry_after)

    async def request(self, method: str, base: str, path: str,
                      params: Mapping[str, Any] | list[tuple[str, Any]] | None = None, *,
                      signed: bool = False, api_key: bool = False, weight: int = 1,
                      idempotent: bool | None = None, _resync: bool = True) -> bytes:
        """prepare + send with the one retry policy: retry only what `is_retryable` allows,
        after Retry-After / backoff; on -1021 re-measure the clock and re-sign."""
        backoff = self._backoff()
        attempt = 0
        while True:
            prep = self.prepare(method, base, path, params, signed=signed, api_key=api_key,
                                weight=weight, idempotent=idempotent)
            try:
                return await self.send(prep)
            except E.BinanceError as err:
                attempt += 1
                if not E.is_retryable(err) or attempt > self.max_retries:
                    raise
                if isinstance(err, E.ClockSkew) and _resync and base in self.time_paths:
                    await self.sync_time(base, self.time_paths[base])
                    continue
                await asyncio.sleep(backoff.delay_at_least(err.retry_after_s or 0.0))


def _chain(task: asyncio.Task[bytes], out: asyncio.Future[bytes]) -> None:
    if out.done():
        return
    if task.cancelled():
        out.cancel()
    elif task.exception() is not None:
        out.set_exception(task.exception())  # type: ignore[arg-type]
    else:
        out.set_result(task.result())
