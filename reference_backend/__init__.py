"""Peakline's reference seller backend: an Ozon Seller API-compatible FastAPI service.

``create_app(settings)`` in :mod:`reference_backend.app` builds it; ``peakline serve`` runs it.
"""

__version__ = "0.1.0"
