"""Legging: pure hedge, pre-flight and pair runtime state; the engine that sends both legs, its operations, orders, recovery and admin routes."""
