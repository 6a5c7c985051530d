"""Coordinators' pages: credentials (settings, live queue, authoring, import/export), queue
health, people, appeals and the audit log. Every page is 404 for anyone who coordinates
nothing in the organisation concerned."""

from app.views.coordinator import authoring, health, oversight, people, settings, stacks

# Authoring first: "/coordinate/credentials/new" is not a credential id.
routes = [
    *authoring.routes,
    *settings.routes,
    *health.routes,
    *people.routes,
    *oversight.routes,
    *stacks.routes,
]
