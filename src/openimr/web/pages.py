"""The pages: sign-in, dashboard, intake, worklist, case workbench, letter and audit, one module a
concern, gathered here into one router.

Server-rendered with Jinja2; forms post back with the session's CSRF token and answer with a
redirect (post/redirect/get), so reloading never repeats an action.
"""

from __future__ import annotations

from openimr.web import auditlog, corpus, dashboard, intake, signin, workbench
from openimr.web.base import (
    Cases,
    Poster,
    Who,
    _sign_in,
    back,
    error_page,
    highlight,
    render,
    router,
    signed_in,
    templates,
)

__all__ = [
    "Cases",
    "Poster",
    "Who",
    "_sign_in",
    "back",
    "error_page",
    "highlight",
    "render",
    "router",
    "signed_in",
    "templates",
]

# Importing each concern declares its routes on the one router, in this order.
CONCERNS = (signin, dashboard, corpus, intake, workbench, auditlog)
