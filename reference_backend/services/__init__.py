"""Domain operations with no HTTP in them: sellers and seeding, orders (allocate + reserve +
split), status transitions, stock, returns, the notification outbox."""
