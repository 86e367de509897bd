"""The reconnecting websocket against small real servers on 127.0.0.1 started by each test."""
from __future__ import annotations

import asyncio

from aiohttp import web

from connectors.transport.backoff import Backoff
from connectors.transport.ws import WsStream
from connectors.types import Health
from daemon.hub import HEALTH, Hub


def fast_backoff() -> Backoff:
    return Backoff(base_s=0.01, cap_s=0.05)


async def test_stale_stream_is_marked_and_reconnected(serve) -> None:
    conns: list[int] = []

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conns.append(1)
        n = len(conns)
        await ws.send_str(f'{{"conn":{n},"i":0}}')
        if n == 1:
            await asyncio.sleep(30)     # go silent: the client must notice and leave
        else:
            for i in range(1, 1000):
                await ws.send_str(f'{{"conn":{n},"i":{i}}}')
                await asyncio.sleep(0.02)
        return ws

    host = await serve([("GET", "/ws", ws_handler)])
    hub = Hub()
    health_events: list[tuple[str, Health]] = []
    hub.subscribe(lambda kind, item: health_events.append((item[1], item[2].health))
                  if kind == HEALTH else None)
    frames: list[bytes] = []
    downs: list[str] = []
    stream = WsStream("t", f"ws://{host}/ws", frames.append, hub=hub, venue="v",
                      stale_after_s=0.4, backoff=fast_backoff(), on_down=downs.append)
    stream.start()
    try:
        for _ in range(200):
            if any(b'"conn":2' in f for f in frames) and len(frames) > 5:
                break
            await asyncio.sleep(0.05)
    finally:
        await stream.stop()
    assert all(isinstance(f, bytes) for f in frames)
    assert frames[0] == b'{"conn":1,"i":0}'
    assert any(b'"conn":2' in f for f in frames)
    assert downs[0] == "stale"
    assert ("ws:t", Health.STALE) in health_events
    assert health_events[-1] == ("ws:t", Health.HEALTHY)
    assert stream.connects >= 2


async def test_server_close_reconnects_with_backoff_and_handler_errors_do_not_kill(serve) -> None:
    conns: list[int] = []

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conns.append(1)
        await ws.send_bytes(b"boom")
        await ws.send_bytes(b"ok")
        await ws.close()
        return ws

    host = await serve([("GET", "/ws", ws_handler)])
    got: list[bytes] = []

    def handler(data: bytes) -> None:
        if data == b"boom":
            raise ValueError("bad frame")
        got.append(data)

    opened: list[int] = []

    async def on_open(ws) -> None:
        opened.append(1)

    stream = WsStream("t", f"ws://{host}/ws", handler, backoff=fast_backoff(), on_open=on_open)
    stream.start()
    try:
        for _ in range(200):
            if len(got) >= 3:
                break
            await asyncio.sleep(0.02)
    finally:
        await stream.stop()
    assert got[:3] == [b"ok", b"ok", b"ok"]
    assert stream.handler_errors >= 3 and "bad frame" in stream.last_handler_error
    assert len(opened) >= 3 and len(conns) >= 3


async def test_planned_rotation(serve) -> None:
    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async def feed() -> None:
            while not ws.closed:
                await ws.send_str("x")
                await asyncio.sleep(0.02)

        feeder = asyncio.create_task(feed())
        async for _ in ws:      # reading lets the server answer the client's close handshake
            pass
        feeder.cancel()
        return ws

    host = await serve([("GET", "/ws", ws_handler)])
    downs: list[str] = []
    # a huge backoff proves rotation does not wait for it
    stream = WsStream("t", f"ws://{host}/ws", lambda b: None, rotate_after_s=0.3,
                      backoff=Backoff(base_s=60, cap_s=60, jitter=False), on_down=downs.append)
    stream.start()
    try:
        for _ in range(100):
            if stream.connects >= 3:
                break
            await asyncio.sleep(0.05)
    finally:
        await stream.stop()
    assert stream.connects >= 3
    assert downs[:2] == ["rotation", "rotation"]
