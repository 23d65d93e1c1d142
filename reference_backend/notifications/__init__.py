"""Seller push notifications: webhooks, the transactional outbox's delivery side and its
worker (signed HTTP POSTs to the webhook URLs sellers registered)."""
