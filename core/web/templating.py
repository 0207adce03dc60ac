"""One Jinja environment over every package's ``templates/`` folder, with Chinese-time filters."""
from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader

from core import plugins

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _template_dirs() -> list[str]:
    """core/web/templates first (the base layout), then each domain's ``templates/``."""
    dirs = [str(Path(__file__).parent / "templates")]
    for domain in plugins.DOMAINS:
        spec = importlib.util.find_spec(domain)
        if spec and spec.submodule_search_locations:
            path = Path(next(iter(spec.submodule_search_locations))) / "templates"
            if path.is_dir():
                dirs.append(str(path))
    return dirs


def local_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(SHANGHAI).strftime(fmt)


templates = Jinja2Templates(directory=_template_dirs()[0])
templates.env.loader = ChoiceLoader([FileSystemLoader(d) for d in _template_dirs()])
templates.env.filters["local_time"] = local_time
templates.env.filters["local_date"] = lambda v: local_time(v, "%Y-%m-%d")


def render(request: Request, name: str, context: dict | None = None, status_code: int = 200):
    """Render a page with the request, the signed-in user and the CSRF token available."""
    ctx = {"request": request, "user": getattr(request.state, "user", None),
           "csrf_token": getattr(request.state, "csrf_token", "")}
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
