"""The exchange's durable state as a JSON-ready dict, and back (pure: no I/O).

What a restart must give back is the venue as the accounts knew it: balances and claims (the
ledger), positions, every order (resting ones rest again, in id order), histories, order ids,
the clock (scenario time, epoch, funding and interest boundaries), and the market's stochastic
state (mids, basis, rates, depth noise, their generators) so prices go on from where they were.
Book update ids only move forward, so a reconnecting client never sees a sequence go back.
Transient things (injected faults, queued events) are not kept.

`restore` takes an `Exchange` built afresh from the same config and seed and overwrites it.
"""
from __future__ import annotations

import dataclasses
import random
from decimal import Decimal
from typing import Any

from connectors.sim.engine.state import Account, Order, Position

FORMAT = 1
_DEC = "__dec__"


class SnapshotMismatch(ValueError):
    """The snapshot is of another venue (name, seed or symbols differ) or another format."""


def _enc(x: Any) -> Any:
    """Decimals tagged (exact), tuples as lists, dicts with str keys; everything else as is."""
    if isinstance(x, Decimal):
        return {_DEC: str(x)}
    if isinstance(x, dict):
        return {str(k): _enc(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_enc(v) for v in x]
    return x


def _dec(x: Any) -> Any:
    if isinstance(x, dict):
        if len(x) == 1 and _DEC in x:
            return Decimal(x[_DEC])
        return {k: _dec(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_dec(v) for v in x]
    return x


def _rng(r: random.Random) -> list[Any]:
    version, internal, gauss = r.getstate()
    return [version, list(internal), gauss]


def _set_rng(r: random.Random, doc: list[Any]) -> None:
    r.setstate((doc[0], tuple(doc[1]), doc[2]))


def _fields(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {f.name: _enc(getattr(obj, f.name)) for f in dataclasses.fields(obj)
            if f.name not in skip}


def _account(a: Account) -> dict[str, Any]:
    doc = _fields(a, ("positions", "orders"))
    doc["positions"] = {s: _fields(p) for s, p in a.positions.items()}
    doc["orders"] = [_fields(o) for o in sorted(a.orders.values(), key=lambda o: o.order_id)]
    return doc


def to_dict(exchange: Any) -> dict[str, Any]:
    """The durable state of `exchange` (a `connectors.sim.engine.Exchange`)."""
    st = exchange.state
    return {
        "format": FORMAT, "venue": st.cfg.name, "seed": st.seed, "symbols": sorted(st.specs),
        "t": st.t, "epoch0_ms": st.epoch0_ms, "seq": st.seq,
        "next_funding_ms": dict(st.next_funding_ms), "next_hour_ms": st.next_hour_ms,
        "ledger": {"txn": st.ledger._txn,
                   "bal": [[a, s, b, str(v)] for (a, s, b), v in st.ledger.bal.items() if v],
                   "entries": _enc(st.ledger.entries)},
        "accounts": [_account(a) for a in st.accounts.values()],
        "markets": {s: {"mid": m.mid, "basis": m.basis, "prem_integral": m._prem_integral,
                        "prem_time": m._prem_time, "last_rate": str(m.last_rate),
                        "rng": _rng(m.rng)} for s, m in st.markets.items()},
        "rates": {a: {"log_dev": r.log_dev, "spike": r.spike, "rng": _rng(r.rng)}
                  for a, r in st.rates.items()},
        "rate_mult": dict(st.rate_mult),
        "depth": {f"{mkt}:{s}": {"rng": _rng(m.rng), "noise": list(m.noise.items()),
                                 "bids": list(m.depleted_bids.items()),
                                 "asks": list(m.depleted_asks.items())}
                  for mkt, models in (("spot", st.spot_models), ("fut", st.fut_models))
                  for s, m in models.items()},
        "book_ids": {f"{mkt}:{s}": b.update_id
                     for mkt, books in (("spot", st.spot_books), ("fut", st.fut_books))
                     for s, b in books.items()},
        "funding_history": _enc(st.funding_history),
        "liquidations": _enc(st.liquidations),
        "pool_saved": {a: str(v) for a, v in exchange.pool_saved.items()},
    }


def _restore_account(doc: dict[str, Any]) -> Account:
    plain = {k: _dec(v) for k, v in doc.items() if k not in ("positions", "orders")}
    acct = Account(**plain)
    acct.positions = {s: Position(**_dec(p)) for s, p in doc["positions"].items()}
    acct.orders = {o["order_id"]: Order(**_dec(o)) for o in doc["orders"]}
    return acct


def restore(exchange: Any, doc: dict[str, Any]) -> None:
    """Overwrite `exchange` (fresh, same config and seed) with the snapshot `doc`."""
    st = exchange.state
    if doc.get("format") != FORMAT:
        raise SnapshotMismatch(f"snapshot format {doc.get('format')!r}, expected {FORMAT}")
    mine = (st.cfg.name, st.seed, sorted(st.specs))
    theirs = (doc.get("venue"), doc.get("seed"), doc.get("symbols"))
    if mine != theirs:
        raise SnapshotMismatch(f"snapshot is of venue/seed/symbols {theirs}, not {mine}")
    st.t, st.epoch0_ms, st.seq = doc["t"], doc["epoch0_ms"], doc["seq"]
    st.next_funding_ms = dict(doc["next_funding_ms"])
    st.next_hour_ms = doc["next_hour_ms"]
    ledger = st.ledger
    ledger.bal.clear()
    for a, s, b, v in doc["ledger"]["bal"]:
        ledger.bal[(a, s, b)] = Decimal(v)
    ledger.entries = _dec(doc["ledger"]["entries"])
    ledger._txn = doc["ledger"]["txn"]
    st.accounts.clear()
    st.by_key.clear()
    for a in doc["accounts"]:
        acct = _restore_account(a)
        st.accounts[acct.account_id] = acct
        st.by_key[acct.api_key] = acct.account_id
    for s, m in doc["markets"].items():
        mk = st.markets[s]
        mk.mid, mk.basis = m["mid"], m["basis"]
        mk._prem_integral, mk._prem_time = m["prem_integral"], m["prem_time"]
        mk.last_rate = Decimal(m["last_rate"])
        _set_rng(mk.rng, m["rng"])
    for a, r in doc["rates"].items():
        br = st.rates[a]
        br.log_dev, br.spike = r["log_dev"], r["spike"]
        _set_rng(br.rng, r["rng"])
    st.rate_mult.update(doc["rate_mult"])
    models = {"spot": st.spot_models, "fut": st.fut_models}
    for key, m in doc["depth"].items():
        mkt, sym = key.split(":", 1)
        model = models[mkt][sym]
        _set_rng(model.rng, m["rng"])
        model.noise = {int(k): v for k, v in m["noise"]}
        model.depleted_bids = {int(k): v for k, v in m["bids"]}
        model.depleted_asks = {int(k): v for k, v in m["asks"]}
    st.funding_history = _dec(doc["funding_history"])
    st.liquidations = _dec(doc["liquidations"])
    exchange.pool_saved = {a: Decimal(v) for a, v in doc["pool_saved"].items()}
    matching = exchange.matching
    matching.open_orders.clear()
    matching.overlays.clear()
    resting = sorted((o for acct in st.accounts.values() for o in acct.orders.values()
                      if o.is_open), key=lambda o: o.order_id)
    for o in resting:
        matching.rest(o)
    books = {"spot": st.spot_books, "fut": st.fut_books}
    for key, update_id in doc["book_ids"].items():
        mkt, sym = key.split(":", 1)
        book = books[mkt][sym]
        book.update_id = book.last_u = update_id
        book.bids, book.asks, book._pub_bids, book._pub_asks = {}, {}, {}, {}
    st.drain_events()
    exchange.market_data.refresh_books(0.0, exchange._fill_resting)
    for b in list(st.spot_books.values()) + list(st.fut_books.values()):
        b.publish()       # the restored state is the baseline; diffs start after it
    st.drain_events()
