"""Stock per (SKU, warehouse): the guarded row updates (reserve, release, consume, receive),
warning lines, the Ozon stock methods (§4.6-§4.8) and replenishment suggestions."""
