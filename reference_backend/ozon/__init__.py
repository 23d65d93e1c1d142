"""The Ozon Seller API-compatible surface of the reference backend (routers and schemas)."""
