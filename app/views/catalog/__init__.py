"""The catalogue: the search page (search.py) and one credential's page (credential.py)."""

from __future__ import annotations

from starlette.routing import Route

from app.views.catalog import credential, search

routes = [
    Route("/catalog", search.catalog),
    Route("/credentials/{org_slug}/{slug}", credential.credential_page),
]
