"""The operator dashboard: login, merchant pages and the live state views (``routes.py``)."""
