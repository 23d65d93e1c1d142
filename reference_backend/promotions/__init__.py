"""Promotions (Ozon actions, §11): the platform's actions with their dates and discount rule,
the products a seller joins to them at an action price, and buyers' discount requests the
seller approves or declines. Buyer orders placed while an action runs sell its products at
the action price (:mod:`.pricing`, resolved in the order's own stock read)."""
