"""Peakline's own routers: buyer orders, cancellations, returns, logistics events
(``/marketplace/v1``, platform key) and seller extras (``/peakline/v1``, seller keys)."""
