"""Admin-editable lifecycle options with defaults; every change is audited."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cases.errors import InvalidInput
from cases.models import Option
from core import audit
from core.settings import get_settings

#: key -> (default, description, type)
DEFAULTS: dict[str, tuple[Any, str, type]] = {
    "public_scorecards": (None, "公开部门排行榜（默认取 MINSHENG_PUBLIC_SCORECARDS）", bool),
    "min_rated_to_rank": (5, "参与排名所需的最少评价数", int),
    "extension_max_days": (30, "一次延期最多的工作日数", int),
    "max_extensions": (1, "每件诉求最多延期次数", int),
    "rating_window_days": (15, "答复后可评价的自然日数（逾期自动办结、计为未评价）", int),
    "appeal_window_days": (30, "答复后可申请复查的自然日数", int),
    "red_after_workdays": (3, "超期多少个工作日后亮红牌并提请督办", int),
    "review_workdays": (15, "督办复查时限（工作日）", int),
}


def get(session: Session, key: str) -> Any:
    default = DEFAULTS[key][0]
    row = session.get(Option, key)
    value = row.value if row is not None else default
    if key == "public_scorecards" and value is None:
        return get_settings().public_scorecards
    return value


def all_options(session: Session) -> dict[str, Any]:
    return {key: get(session, key) for key in DEFAULTS}


def set_option(session: Session, key: str, value: Any, actor: str) -> Any:
    if key not in DEFAULTS:
        raise InvalidInput(f"未知的选项：{key}")
    kind = DEFAULTS[key][2]
    try:
        if kind is bool:
            value = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "on", "yes", "是")
        else:
            value = int(value)
            if value < 0 or value > 3650:
                raise ValueError
    except (TypeError, ValueError):
        raise InvalidInput(f"选项 {key} 的值不正确：应为{'是/否' if kind is bool else '0 到 3650 之间的整数'}。") from None
    row = session.get(Option, key)
    if row is None:
        session.add(Option(key=key, value=value))
    else:
        row.value = value
    audit.append(session, actor, "cases.option", f"option:{key}", {"value": value})
    return value
