"""Catalog: products (import tasks, lists, info) and prices, Ozon routes (§4.1-§4.5)."""
