"""ordertools: Amazon orders in a local order book, under the Sales Channel's import rules."""

__version__ = "0.1.0"
