"""Market model per symbol (jump-diffusion spot mid, OU basis, funding from the averaged premium)
and per-asset hourly borrow rates (log-OU with spikes). Floats for the stochastic state; what the
accounts see (marks, rates) is quantized to Decimal at the boundary."""
from __future__ import annotations

import math
import random
from decimal import ROUND_HALF_EVEN, Decimal

from connectors.sim.engine.params import AssetSpec, EngineParams, SymbolSpec

Q8 = Decimal("0.00000001")


class SymbolMarket:
    def __init__(self, spec: SymbolSpec, rng: random.Random) -> None:
        self.spec = spec
        self.rng = rng
        self.mid = spec.price0
        self.basis = spec.basis_mean
        self._prem_integral = 0.0
        self._prem_time = 0.0
        self.last_rate = Decimal(0)

    def step(self, dt: float, drift: float, basis_mean: float | None, vol_mult: float,
             basis_theta: float | None) -> None:
        s = self.spec
        sig = s.vol * vol_mult
        r = self.rng
        z = r.gauss(0.0, 1.0)
        jump = r.gauss(0.0, s.jump_sigma * vol_mult) if r.random() < s.jump_rate * dt else 0.0
        self.mid *= math.exp((drift - 0.5 * sig * sig) * dt + sig * math.sqrt(dt) * z + jump)
        mean = s.basis_mean if basis_mean is None else basis_mean
        theta = s.basis_theta if basis_theta is None else basis_theta
        zb = r.gauss(0.0, 1.0)
        self.basis += theta * (mean - self.basis) * dt + s.basis_sigma * vol_mult * math.sqrt(dt) * zb
        self._prem_integral += self.basis * dt
        self._prem_time += dt

    @property
    def perp_mid(self) -> float:
        return self.mid * (1.0 + self.basis)

    def index_price(self) -> Decimal:
        return Decimal(repr(round(self.mid, 2)))

    def mark_price(self) -> Decimal:
        return Decimal(repr(round(self.perp_mid, 2)))

    def avg_premium(self) -> float:
        return self._prem_integral / self._prem_time if self._prem_time > 0 else self.basis

    def predicted_rate(self, p: EngineParams) -> Decimal:
        """Binance: rate = P + clamp(I - P, -0.05 %, +0.05 %), P the premium averaged over the
        interval, I the interest rate per interval (0.01 % per 8 h scaled), capped at +-cap."""
        prem = Decimal(repr(self.avg_premium())).quantize(Q8, ROUND_HALF_EVEN)
        interest = p.funding_interest_8h * self.spec.funding_interval_h / 8
        rate = prem + min(max(interest - prem, -p.funding_clamp), p.funding_clamp)
        rate = min(max(rate, -p.funding_cap), p.funding_cap)
        return rate.quantize(Q8, ROUND_HALF_EVEN)

    def reset_interval(self, settled_rate: Decimal) -> None:
        self.last_rate = settled_rate
        self._prem_integral = 0.0
        self._prem_time = 0.0


class BorrowRate:
    def __init__(self, spec: AssetSpec, rng: random.Random) -> None:
        self.spec = spec
        self.rng = rng
        self.log_dev = 0.0
        self.spike = 1.0

    def step(self, dt: float) -> None:
        s = self.spec
        r = self.rng
        self.log_dev += -s.rate_theta * self.log_dev * dt + s.rate_vol * math.sqrt(dt) * r.gauss(0, 1)
        if r.random() < s.spike_rate * dt:
            self.spike = max(self.spike, s.spike_mult)
        self.spike = 1.0 + (self.spike - 1.0) * math.exp(-dt / 30.0)

    def hourly(self, mult: float) -> Decimal:
        v = self.spec.hourly_rate * math.exp(self.log_dev) * self.spike * mult
        return max(Decimal(repr(v)).quantize(Q8, ROUND_HALF_EVEN), Q8)
