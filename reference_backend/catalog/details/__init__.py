"""A product read back as Ozon's import wrote it: its attributes (§16.4) and its current
price information with the marketplace's tariffs (§16.5)."""
