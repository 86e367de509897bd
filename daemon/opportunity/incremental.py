"""The scanner's pass, incremental: reprice only the candidates whose inputs changed (pure
bookkeeping over the hub; no I/O, no clock: `now_ms` is an argument).

A candidate's price (quotes.price_candidate) reads: its legs' books and their readiness, the
perp marks, the instruments, the borrow rate of the coin, the funding stats and spread fit, the
configuration and the strategy's terms, and `now_ms` (its `ts_ms`, and a book's age against
`book_max_age_ms`). Every hub change arrives as an event (`on_event`, subscribed by the
`Scanner`), which marks what it touched; the stats and fits are compared entry by entry on each
pass; the configuration and terms as wholes. A book's readiness is re-read when an event
touched its book or stream, and when its age may have crossed the limit: a book last seen
fresh stays fresh until `last_msg_ms + book_max_age_ms` as last read (its messages only move
that later), and a book too old is re-read on every pass (its reason states its age).

So a pass costs the repricing of what changed, a merge and sort when anything did, and one
`ts_ms` per candidate; `quotes.scan` over the same hub gives the same ranked list.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from msgspec import structs

from connectors.types import InstrumentKey, book_stream
from daemon import hub as hubmod
from daemon.core.economics import TradeType
from daemon.hub import Hub
from daemon.opportunity.config import ScannerConfig
from daemon.opportunity.funding_feed import FundingStats, SpreadFit
from daemon.opportunity.pricing import StrategyTerms
from daemon.opportunity.quotes import (Key, Opportunity, candidates, merge_priced,
                                       price_candidate)

Candidate = tuple[TradeType, str, InstrumentKey, InstrumentKey]


class IncrementalScan:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._cfg: ScannerConfig | None = None
        self._terms: StrategyTerms | None = None
        self._cands: list[Candidate] = []
        self._results: list[Opportunity | None] = []
        self._ranked: list[Opportunity] = []
        self._by_book: dict[InstrumentKey, list[int]] = {}
        self._by_mark: dict[Key, list[int]] = {}
        self._by_borrow: dict[Key, list[int]] = {}
        self._by_stats: dict[Key, list[int]] = {}
        self._by_spread: dict[tuple[Key, Key], list[int]] = {}
        self._stats: dict[Key, FundingStats | None] = {}
        self._spreads: dict[tuple[Key, Key], SpreadFit | None] = {}
        self._expiry: dict[InstrumentKey, float] = {}     # fresh books: when to re-read their age
        self._next_expiry = float("inf")
        self._aged: set[InstrumentKey] = set()            # books too old when last read
        self._unread: set[InstrumentKey] = set()          # streams with no message time yet
        self._dirty: set[int] = set()
        self._rebuild = True
        self.repriced = 0

    # -- what changed ---------------------------------------------------------------------------
    def on_event(self, kind: str, item: Any) -> None:
        """Hub subscriber: note what the change can move (O(1))."""
        if kind == hubmod.BOOK:
            idx = self._by_book.get(item)
            if idx:
                self._dirty.update(idx)
        elif kind == hubmod.MARK:
            idx = self._by_mark.get((item.venue, item.symbol))
            if idx:
                self._dirty.update(idx)
        elif kind == hubmod.BORROW:
            idx = self._by_borrow.get((item.venue, item.asset))
            if idx:
                self._dirty.update(idx)
        elif kind == hubmod.INSTRUMENT or kind == hubmod.HEALTH:
            self._rebuild = True     # new candidates, or readiness of any book: read all again

    def _index(self, cfg: ScannerConfig) -> None:
        self._cands = candidates(self.hub, cfg)
        self._results = [None] * len(self._cands)
        for d in (self._by_book, self._by_mark, self._by_borrow, self._by_stats, self._by_spread):
            d.clear()
        for i, (trade, symbol, leg0, leg1) in enumerate(self._cands):
            self._by_book.setdefault(leg0, []).append(i)
            self._by_book.setdefault(leg1, []).append(i)
            self._by_mark.setdefault((leg1.venue, leg1.symbol), []).append(i)
            self._by_stats.setdefault((leg1.venue, leg1.symbol), []).append(i)
            if trade is TradeType.LONG_SHORT:
                self._by_mark.setdefault((leg0.venue, leg0.symbol), []).append(i)
                self._by_stats.setdefault((leg0.venue, leg0.symbol), []).append(i)
                self._by_spread.setdefault(((leg0.venue, leg0.symbol), (leg1.venue, leg1.symbol)),
                                           []).append(i)
            elif trade is TradeType.REVERSE_BASIS:
                inst0 = self.hub.instruments.get(leg0)
                self._by_borrow.setdefault((leg0.venue, inst0.base if inst0 is not None else symbol),
                                           []).append(i)
        self._stats.clear()
        self._spreads.clear()
        self._expiry.clear()
        self._aged.clear()
        self._unread.clear()
        self._next_expiry = float("inf")

    def _changed_fits(self, stats: Mapping[Key, FundingStats],
                      spreads: Mapping[tuple[Key, Key], SpreadFit]) -> None:
        for key, idx in self._by_stats.items():
            got = stats.get(key)
            if got is not self._stats.get(key):
                self._stats[key] = got
                self._dirty.update(idx)
        for pkey, idx in self._by_spread.items():
            fit = spreads.get(pkey)
            if fit is not self._spreads.get(pkey):
                self._spreads[pkey] = fit
                self._dirty.update(idx)

    def _read_age(self, key: InstrumentKey, cfg: ScannerConfig, now_ms: int) -> None:
        """Note when `key`'s age next needs reading (see the module doc)."""
        state = self.hub.streams.get((key.venue, book_stream(key)))
        self._expiry.pop(key, None)
        self._aged.discard(key)
        self._unread.discard(key)
        if state is None:
            return          # no stream: not ready whatever the time (a HEALTH event re-reads it)
        if not state.last_msg_ms:
            self._unread.add(key)      # no age judged yet: read again on every pass
            return
        until = state.last_msg_ms + cfg.book_max_age_ms
        if now_ms > until:
            self._aged.add(key)
        else:
            self._expiry[key] = until
            self._next_expiry = min(self._next_expiry, until)

    def _aging(self, cfg: ScannerConfig, now_ms: int) -> None:
        for key in self._aged:
            self._dirty.update(self._by_book.get(key, ()))
        for key in list(self._unread):
            self._read_age(key, cfg, now_ms)
            if key in self._aged:
                self._dirty.update(self._by_book.get(key, ()))
        if now_ms <= self._next_expiry:
            return
        for key, until in list(self._expiry.items()):
            if now_ms > until:
                self._read_age(key, cfg, now_ms)
                if key in self._aged:
                    self._dirty.update(self._by_book.get(key, ()))
        self._next_expiry = min(self._expiry.values(), default=float("inf"))

    # -- the pass -------------------------------------------------------------------------------
    def scan(self, cfg: ScannerConfig, stats: Mapping[Key, FundingStats], now_ms: int,
             spreads: Mapping[tuple[Key, Key], SpreadFit] | None = None,
             terms: StrategyTerms | None = None) -> list[Opportunity]:
        """The ranked candidates, as scanner.scan over the hub would give them now."""
        terms = terms if terms is not None else StrategyTerms()
        spreads = spreads if spreads is not None else {}
        if self._rebuild or cfg is not self._cfg or terms != self._terms:
            self._cfg, self._terms, self._rebuild = cfg, terms, False
            self._index(cfg)
            self._dirty = set(range(len(self._cands)))
        self._changed_fits(stats, spreads)
        self._aging(cfg, now_ms)
        if self._dirty:
            dirty, self._dirty = sorted(self._dirty), set()
            books: set[InstrumentKey] = set()
            for i in dirty:
                trade, symbol, leg0, leg1 = self._cands[i]
                self._results[i] = price_candidate(self.hub, cfg, trade, symbol, leg0, leg1, stats,
                                                   now_ms, spreads, terms)
                books.add(leg0)
                books.add(leg1)
            for key in books:
                self._read_age(key, cfg, now_ms)
            self.repriced += len(dirty)
            self._ranked = self._merge()
        return [o if o.ts_ms == now_ms else _at(o, now_ms) for o in self._ranked]

    def _merge(self) -> list[Opportunity]:
        return merge_priced(zip(self._cands, self._results, strict=True))


def _at(opp: Opportunity, now_ms: int) -> Opportunity:
    """The same figures, stamped with this pass's time (a copy: a ranking handed out earlier
    keeps its own)."""
    out = copy.copy(opp)
    structs.force_setattr(out, "ts_ms", now_ms)
    return out
