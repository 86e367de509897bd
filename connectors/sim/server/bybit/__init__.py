"""The embedded exchange's Bybit v5 dialect: the SAME pure engine (connectors/sim/engine) behind
Bybit's REST paths, envelopes, retCodes, HMAC headers and websockets.

translate.py (pure) maps requests, views and events between Bybit's shapes and the engine's;
rest.py serves `/v5/...`; streams.py the public (`/v5/public/spot|linear`) and private
(`/v5/private`, `op: auth`) websockets; venue.py (`BybitVenueServer`) hosts one venue.

One deviation, on purpose: the engine keeps spot margin and perp margin in two wallets, so this
venue reports them as Bybit's UNIFIED (spot margin coins and liabilities) and CONTRACT (the perps'
USDT) account types, moved between with `/v5/asset/transfer/inter-transfer`; a real unified
account holds both in UNIFIED.
"""
