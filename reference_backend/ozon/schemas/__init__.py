"""Pydantic models of the Ozon-compatible Seller API, one module per method group."""
