"""Seller-side status changes: cancellation and cancel reasons (§5.9), arbitration and
awaiting-delivery (§5.10), rFBS delivery statuses (§6)."""
