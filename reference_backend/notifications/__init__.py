"""Seller push notifications: Ozon-shaped payloads, the transactional outbox and its
delivery worker (signed HTTP POSTs to the webhook URLs sellers registered)."""
