"""Sellers: create one (owner account, keys), seed one's world from a scenario, or replay
a trading history for it (``history``)."""
