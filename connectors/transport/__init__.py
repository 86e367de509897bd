"""Venue-neutral transport: reconnecting websocket, backoff, signed REST session, pre-opened fast HTTP pool. Imports no venue."""
