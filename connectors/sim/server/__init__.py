"""Network surface of the embedded exchange: Binance REST + websockets on loopback, per venue."""
