"""The embedded exchange's OKX v5 dialect: the same pure engine (connectors/sim/engine) behind
OKX's REST paths, `OK-ACCESS-*` signing with a passphrase, and the public/private websockets.
translate.py is the pure edge (requests, answers, errors, books with seqId and checksum);
server.py the aiohttp shell."""
