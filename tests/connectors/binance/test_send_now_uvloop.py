"""The synchronous-write path under uvloop, the loop `basisd run` uses: uvloop's transports are not
asyncio.Transport subclasses, which once sent every protective request down the slow path."""
from __future__ import annotations

import asyncio

import uvloop
from aiohttp import web

from connectors.binance.rest import BINANCE
from connectors.transport.rest import RestSession
from connectors.secrets import Secret


async def _scenario() -> tuple[int, int, int, dict]:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"tranId": 42})

    app = web.Application()
    app.add_routes([web.post("/sapi/v1/asset/transfer", ok)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    rest = RestSession(BINANCE, api_key=Secret("k"), api_secret=Secret("s"))
    await rest.open()
    await rest.open_fast(base)
    try:
        prep = rest.prepare("POST", base, "/sapi/v1/asset/transfer",
                            [("type", "MARGIN_UMFUTURE"), ("asset", "USDT"), ("amount", "1")],
                            signed=True, weight=900, idempotent=False)
        fut = rest.send_now(prep)
        written = fut.written_ns            # read before any await: the bytes are already out
        answer = await asyncio.wait_for(fut, 10)
        return written, rest.fast.writes, rest.fast.fallbacks, answer
    finally:
        await rest.close()
        await runner.cleanup()


def test_fast_path_writes_synchronously_under_uvloop() -> None:
    written, writes, fallbacks, answer = uvloop.run(_scenario())
    assert written > 0 and writes == 1 and fallbacks == 0
    assert b"42" in answer
