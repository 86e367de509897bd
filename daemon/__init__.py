"""basisd: delta-neutral basis trading daemon."""
__version__ = "0.1.0"
