"""Loaders for the third-party recordings in ../shared/realdata (read in place, never copied)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from connectors.binance import schemas

from tests.conftest import ROOT
REALDATA = Path(os.environ.get("BASISD_REALDATA", ROOT.parent / "shared" / "realdata"))
CRYPTOFEED = REALDATA / "cryptofeed_master"


@dataclass
class FuturesRecording:
    snapshots: dict[str, tuple[float, schemas.DepthSnapshot]] = field(default_factory=dict)
    # (recv_ts, symbol, kind, decoded) in file order; kind is "depth" or "ticker"
    frames: list[tuple[float, str, str, object]] = field(default_factory=list)
    other_frames: int = 0


def load_futures_recording() -> FuturesRecording:
    rec = FuturesRecording()
    for line in (CRYPTOFEED / "BINANCE_FUTURES.http.0.0").read_text().splitlines():
        if not line.strip():
            continue
        url, rest = line.split(" -> ", 1)
        ts, body = rest.split(": ", 1)
        symbol = url.split("symbol=", 1)[1].split("&", 1)[0]
        rec.snapshots[symbol] = (float(ts), schemas.DEPTH_SNAPSHOT.decode(body))
    lines = (CRYPTOFEED / "BINANCE_FUTURES.ws.1.0").read_text().splitlines()
    for line in lines[1:]:
        if not line.strip():
            continue
        ts, frame = line.split(": ", 1)
        env = schemas.RAW_ENVELOPE.decode(frame)
        if env.stream.endswith("@depth@100ms"):
            ev = schemas.DEPTH_UPDATE.decode(env.data)
            rec.frames.append((float(ts), ev.s, "depth", ev))
        elif env.stream.endswith("@bookTicker"):
            bt = schemas.BOOK_TICKER.decode(env.data)
            rec.frames.append((float(ts), bt.s, "ticker", bt))
        else:
            rec.other_frames += 1
    return rec


def futures_exchange_info_body() -> bytes:
    line = (CRYPTOFEED / "BINANCE_FUTURES.0").read_bytes().split(b"\n", 1)[0]
    return line.split(b": ", 1)[1]
