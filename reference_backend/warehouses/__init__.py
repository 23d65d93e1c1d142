"""Warehouses and delivery methods (§3), and the seller's network as the allocation and
replenishment policies see it."""
