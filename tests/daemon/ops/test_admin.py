"""The admin socket against real clients on a real unix socket."""
from __future__ import annotations

import asyncio
import os
import random
import stat
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from daemon.ops.admin import AdminServer, RequestError, SocketInUse, read_json
from daemon.ops.logs import get_logger


async def _echo(request: web.Request) -> web.Response:
    body = await read_json(request)
    if "n" in body and not isinstance(body["n"], int):
        raise RequestError(400, "n must be an integer", field="n")
    from daemon.ops.admin import json_response
    return json_response({"got": body})


def make_server(path: Path) -> AdminServer:
    server = AdminServer(str(path), group=None, max_body=4096, status=lambda: {"halt": "none"},
                         log=get_logger("test"))
    server.add_routes([web.post("/v1/echo", _echo)])
    return server


async def _get(session: aiohttp.ClientSession, url: str, **kw) -> tuple[int, dict]:
    async with session.request(kw.pop("method", "GET"), "http://basisd" + url, **kw) as r:
        return r.status, await r.json()


async def test_routes_and_json_errors(short_dir: Path) -> None:
    sock = short_dir / "run" / "a.sock"
    server = make_server(sock)
    await server.start()
    try:
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(sock))) as s:
            assert await _get(s, "/v1/health") == (200, {"ok": True})
            status, body = await _get(s, "/v1/nope")
            assert status == 404 and "no route" in body["error"]
            status, body = await _get(s, "/v1/health", method="POST")
            assert status == 405 and "not allowed" in body["error"]
            status, body = await _get(s, "/v1/echo", method="POST", data=b"{bad json")
            assert status == 400 and "malformed JSON" in body["error"]
            status, body = await _get(s, "/v1/echo", method="POST", data=b"[1,2]")
            assert status == 400 and "JSON object" in body["error"]
            status, body = await _get(s, "/v1/echo", method="POST", data=b'{"n": "x"}')
            assert status == 400 and body["field"] == "n"
            status, body = await _get(s, "/v1/echo", method="POST", data=b"{" + b" " * 10_000 + b"}")
            assert status == 413 and "larger than 4096" in body["error"]
            status, body = await _get(s, "/v1/echo", method="POST", json={"n": 3})
            assert status == 200 and body == {"got": {"n": 3}}
    finally:
        await server.stop()
    assert not sock.exists()


async def test_live_socket_is_refused_and_stale_one_replaced(short_dir: Path) -> None:
    sock = short_dir / "b.sock"
    first = make_server(sock)
    await first.start()
    try:
        second = make_server(sock)
        with pytest.raises(SocketInUse):
            await asyncio.to_thread(second.claim_path)
        await second.stop()  # must not remove the socket it never bound
        assert sock.exists()
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(sock))) as s:
            assert (await _get(s, "/v1/health"))[0] == 200
    finally:
        await first.stop()
    # A stale file (nothing listening) is removed and the new server binds.
    sock.write_text("stale")
    third = make_server(sock)
    await third.start()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(sock))) as s:
            assert (await _get(s, "/v1/health"))[0] == 200
    finally:
        await third.stop()


def _malformed(rng: random.Random) -> bytes:
    kind = rng.randrange(7)
    if kind == 0:
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        return b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(junk) + junk
    if kind == 1:
        return b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"{" * 5000
    if kind == 2:
        return b"GET /v1/%s HTTP/1.1\r\nHost: x\r\n\r\n" % rng.choice([b"x", b"../etc", b"%00", b"status/1"])
    if kind == 3:
        return b"%s /v1/health HTTP/1.1\r\nHost: x\r\n\r\n" % rng.choice([b"DELETE", b"PUT", b"PATCH", b"POST"])
    if kind == 4:  # truncated request line / headers
        full = b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n{\"a\":"
        return full[: rng.randrange(1, len(full))]
    if kind == 5:  # garbage that is not HTTP at all
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
    return b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"


async def flood(sock: str, n: int = 1000, seed: int = 7, batch: int = 50) -> None:
    """`n` malformed requests, `batch` at a time; every other one waits for the answer."""
    rng = random.Random(seed)

    async def one(i: int) -> None:
        try:
            reader, writer = await asyncio.open_unix_connection(sock)
        except OSError:
            return
        try:
            writer.write(_malformed(rng))
            await writer.drain()
            if i % 2:
                writer.write_eof()
                await asyncio.wait_for(reader.read(4096), 5)
        except (OSError, asyncio.TimeoutError):
            pass
        finally:
            writer.close()

    for start in range(0, n, batch):
        await asyncio.gather(*(one(i) for i in range(start, start + batch)))


async def test_a_thousand_malformed_requests_leave_health_answering(short_dir: Path) -> None:
    sock = short_dir / "c.sock"
    server = make_server(sock)
    await server.start()
    try:
        await flood(str(sock))
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(sock))) as s:
            assert await _get(s, "/v1/health") == (200, {"ok": True})
            assert (await _get(s, "/v1/status"))[0] == 200
    finally:
        await server.stop()
