"""Opportunities: scanner (pricing every trade from the hub), strategy (auto mode policy), funding and borrow feeds, admin routes."""
