"""Sellers: create one (owner account, keys), or seed one's world from a scenario."""
