"""GET /v1/funding over a real unix socket: the feed's settled history and its OU fit."""
from __future__ import annotations

import asyncio
import math
import random
from pathlib import Path

import pytest

from daemon.ctl import request
from daemon.hub import Hub
from daemon.opportunity.api import funding_routes
from daemon.opportunity.funding_feed import FundingFeed
from daemon.ops.admin import AdminServer
from daemon.ops.logs import get_logger

H8 = 8 * 3_600_000


async def test_funding_history_and_fit(short_dir: Path) -> None:
    feed = FundingFeed(Hub(), {}, {"a": ["BTCUSDT", "ETHUSDT"]}, min_history=10)
    rng = random.Random(3)
    rate, points = 0.0003, []
    for i in range(60):      # AR(1) around 1 bp: a fit exists
        rate = 0.0001 + 0.7 * (rate - 0.0001) + rng.gauss(0, 0.00005)
        points.append((1_700_000_000_000 // H8 * H8 + i * H8, rate))
    feed.store.set_interval(("a", "BTCUSDT"), 8.0)
    feed.store.add_points(("a", "BTCUSDT"), points)
    sock = str(short_dir / "f.sock")
    admin = AdminServer(sock, group=None, max_body=65536, status=lambda: {}, log=get_logger("t"))
    admin.add_routes(funding_routes(feed))
    await admin.start()
    try:
        status, body = await asyncio.to_thread(
            request, sock, "GET", "/v1/funding?venue=a&symbol=btcusdt&limit=50")
        assert status == 200, body
        assert len(body["points"]) == 50 and body["points"][-1] == [points[-1][0], points[-1][1]]
        fit = body["fit"]
        stats = feed.store.stats(("a", "BTCUSDT"))
        assert stats is not None and stats.fit is not None
        assert fit["mu"] == pytest.approx(stats.fit.mu) and fit["sigma_f"] > 0
        assert math.isfinite(fit["half_life_hours"]) and body["interval_h"] == 8.0
        # a followed perp with no history yet: empty, says why
        status, body = await asyncio.to_thread(
            request, sock, "GET", "/v1/funding?venue=a&symbol=ETHUSDT")
        assert status == 200 and body["points"] == [] and body["fit"] is None
        assert body["fit_error"]
        for query, field, code in (("venue=b&symbol=BTCUSDT", "symbol", 404),
                                   ("symbol=BTCUSDT", "venue", 400),
                                   ("venue=a", "symbol", 400),
                                   ("venue=a&symbol=BTCUSDT&limit=0", "limit", 400),
                                   ("venue=a&symbol=BTCUSDT&x=1", "x", 400)):
            status, body = await asyncio.to_thread(request, sock, "GET", f"/v1/funding?{query}")
            assert (status, body.get("field")) == (code, field), (query, body)
    finally:
        await admin.stop()
