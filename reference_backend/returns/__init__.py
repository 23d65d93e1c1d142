"""Returns: the Ozon lists (§7) and the seller's processing (receive, write off, refund,
exchange)."""
