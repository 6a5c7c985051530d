"""Public badge pages, the Open Badges documents at their stable URLs, keys and verification."""

from __future__ import annotations

from app.views.badges import coordination, documents, pages, verification

routes = [*documents.routes, *verification.routes, *coordination.routes, *pages.routes]
