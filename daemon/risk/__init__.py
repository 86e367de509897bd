"""Risk: the only liquidation maths (pure: distance, margin, perp, ladder, assess) and its shell (watchdog, actions, admin routes)."""
