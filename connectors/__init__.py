"""Venue connectors: everything that speaks an exchange's language."""
