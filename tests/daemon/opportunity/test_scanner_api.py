"""GET /v1/opportunities over a real unix socket (AdminServer) and basisctl's table."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from daemon.ops.admin import AdminServer
from daemon.ctl import render_opportunities, request
from daemon.hub import Hub
from daemon.ops.logs import get_logger
from daemon.opportunity.scanner import Scanner
from daemon.opportunity.api import scanner_routes
from daemon.opportunity.config import ScannerConfig

from .hubkit import NOW_MS, add_borrow, add_market


async def test_opportunities_endpoint_and_table(short_dir: Path) -> None:
    hub = Hub()
    add_market(hub, "a", "ETHUSDT", interval_h=4, mark=2000.0, rate=-0.0002)
    add_market(hub, "a", "BTCUSDT", interval_h=8, mark=50_000.0, rate=-0.0001)
    add_borrow(hub, "a", "ETH", hourly=0.00001)
    add_borrow(hub, "a", "BTC", hourly=0.00001)
    scanner = Scanner(hub, ScannerConfig(), clock_ms=lambda: NOW_MS)
    sock = str(short_dir / "a.sock")
    admin = AdminServer(sock, group=None, max_body=65536, status=lambda: {}, log=get_logger("t"))
    admin.add_routes(scanner_routes(scanner))
    await admin.start()
    try:
        status, body = await asyncio.to_thread(request, sock, "GET", "/v1/opportunities")
        assert status == 200
        opps = body["opportunities"]
        assert opps[0]["type"] == "reverse_basis" and opps[0]["symbol"] == "ETHUSDT"
        expected = scanner.latest[0].apr.net_apr * 100
        assert opps[0]["net_apr_pct"] == pytest.approx(expected, abs=1e-5)
        assert opps[0]["interval_h"] == 4
        status, body = await asyncio.to_thread(
            request, sock, "GET", "/v1/opportunities?type=basis&limit=1")
        assert status == 200 and [o["type"] for o in body["opportunities"]] == ["basis"]
        status, body = await asyncio.to_thread(request, sock, "GET", "/v1/opportunities?type=x")
        assert status == 400 and body["field"] == "type"
        status, body = await asyncio.to_thread(request, sock, "GET", "/v1/opportunities?limit=0")
        assert status == 400 and body["field"] == "limit"
        status, body = await asyncio.to_thread(request, sock, "GET", "/v1/opportunities?bogus=1")
        assert status == 400 and body["field"] == "bogus"
        status, body = await asyncio.to_thread(request, sock, "GET", "/v1/opportunities")
        table = render_opportunities(body)
        first = table.splitlines()[1]
        assert "reverse_basis" in first and "ETHUSDT" in first and "a/a" in first
        assert f"{opps[0]['net_apr_pct']:,.2f}" in first
    finally:
        await admin.stop()
