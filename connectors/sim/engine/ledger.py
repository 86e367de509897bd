"""Double-entry ledger of every balance change, exact (Decimal).

Coin buckets ("free", "locked", "fwallet") hold coins; per asset their sum over all accounts
(users, "house", "pool") never changes after genesis. Claim buckets ("borrowed", "interest" on the
borrower, "receivable" on the lender) must balance too: sum(receivable) == sum(borrowed+interest).
Every posting is checked to be balanced before it is applied, so conservation holds by
construction and the check in tests is against the ledger, not against the code that posts."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

COIN_BUCKETS = ("free", "locked", "fwallet")
LIABILITY_BUCKETS = ("borrowed", "interest")
CLAIM_BUCKETS = ("receivable",)
CAUSES = {"genesis", "deposit", "fill", "fee", "funding", "interest", "borrow", "repay",
          "transfer", "liquidation", "lock", "unlock", "realized_pnl", "insurance"}
ZERO = Decimal(0)

Leg = tuple[str, str, str, Decimal]   # account, asset, bucket, delta


class UnbalancedPosting(AssertionError):
    pass


class Ledger:
    def __init__(self) -> None:
        self.bal: defaultdict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        self.entries: list[dict[str, Any]] = []
        self._txn = 0

    def get(self, account: str, asset: str, bucket: str) -> Decimal:
        return self.bal.get((account, asset, bucket), ZERO)

    def post(self, t_ms: int, cause: str, ref: str, legs: list[Leg], *,
             genesis: bool = False) -> int:
        if cause not in CAUSES:
            raise ValueError(cause)
        legs = [lg for lg in legs if lg[3] != 0]
        if not genesis:
            coin: defaultdict[str, Decimal] = defaultdict(Decimal)
            claim: defaultdict[str, Decimal] = defaultdict(Decimal)
            for _acct, asset, bucket, d in legs:
                if bucket in COIN_BUCKETS:
                    coin[asset] += d
                elif bucket in LIABILITY_BUCKETS:
                    claim[asset] -= d
                elif bucket in CLAIM_BUCKETS:
                    claim[asset] += d
                else:
                    raise UnbalancedPosting(f"unknown bucket {bucket}")
            if any(coin.values()) or any(claim.values()):
                raise UnbalancedPosting(f"{cause} {ref}: {legs}")
        self._txn += 1
        for acct, asset, bucket, d in legs:
            self.bal[(acct, asset, bucket)] += d
            self.entries.append({"txn": self._txn, "time": t_ms, "account": acct, "asset": asset,
                                 "bucket": bucket, "delta": d, "cause": cause, "ref": ref})
        return self._txn

    def coin_totals(self) -> dict[str, Decimal]:
        out: defaultdict[str, Decimal] = defaultdict(Decimal)
        for (_a, asset, bucket), v in self.bal.items():
            if bucket in COIN_BUCKETS:
                out[asset] += v
        return dict(out)

    def claim_imbalance(self) -> dict[str, Decimal]:
        out: defaultdict[str, Decimal] = defaultdict(Decimal)
        for (_a, asset, bucket), v in self.bal.items():
            if bucket in LIABILITY_BUCKETS:
                out[asset] -= v
            elif bucket in CLAIM_BUCKETS:
                out[asset] += v
        return dict(out)

    def assets_of(self, account: str) -> list[str]:
        return sorted({a for (acct, a, _b), v in self.bal.items() if acct == account})
