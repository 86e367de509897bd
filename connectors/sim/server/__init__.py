"""Network surface of the embedded exchange: Binance REST + websockets on loopback, per venue.

cluster.py runs N venues; venue.py (`VenueServer`) is one venue: the engine, its sockets and the
apps built from the handler modules. Those (rest.py and the endpoint tables endpoints_spot.py,
endpoints_futures.py, common.py; control.py, margin_risk.py, ws_api.py, streams.py) see the venue
only as the `VenueContext` protocol of context.py, so none of them imports venue.py."""
