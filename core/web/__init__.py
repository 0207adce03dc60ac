"""Web plumbing shared by every domain's views: sessions, roles, CSRF, templates, rate limits."""
from core.web.deps import (
    AuthRequired, Forbidden, current_user, get_read_session, get_session, optional_user, require_roles,
)
from core.web.csrf import csrf_protect
from core.web.templating import render, templates

__all__ = [
    "AuthRequired", "Forbidden", "current_user", "get_read_session", "get_session", "optional_user",
    "require_roles", "csrf_protect", "render", "templates",
]
