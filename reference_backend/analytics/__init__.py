"""Analytics (§8.1, §8.2): analytics data and stock on warehouses."""
