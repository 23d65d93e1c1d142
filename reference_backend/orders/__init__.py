"""Buyer orders: allocation plan, the one-transaction write, the group commit and its SQL."""
