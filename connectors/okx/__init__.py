"""OKX v5 connector (spot on the cross-margin account, USDT-margined swaps). `OkxVenue` is the
entry point; the pure modules (constants, symbols, signing, errors, sync, schemas, reference)
load without aiohttp or the hub."""
