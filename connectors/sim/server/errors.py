"""Binance-shaped errors of the server layer: `{"code": -1022, "msg": "..."}` + HTTP status."""
from __future__ import annotations

from connectors.sim.engine.errors import BinanceError


# One exception type for the whole sim: the engine's, so the dispatcher has one except clause.
ApiError = BinanceError


def unknown_key() -> ApiError:
    return ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")


def bad_key_format() -> ApiError:
    return ApiError(401, -2014, "API-key format invalid.")


def bad_signature() -> ApiError:
    return ApiError(400, -1022, "Signature for this request is not valid.")


def internal_error() -> ApiError:
    # What Binance sends with a 5xx: the outcome of the request is UNKNOWN to the client.
    return ApiError(503, -1001, "Internal error; unable to process your request. Please try again.")
