"""Description categories (§16.1-§16.3): the bundled category tree, the attributes of each
product type with their dictionary values, and the check of a product import against them."""
