"""Validation of the citizen filing, shared by the web form and Open311: field → Chinese message."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.models.cases import APPEAL_TYPES

TITLE_MAX = 100
DESCRIPTION_MIN, DESCRIPTION_MAX = 10, 5000
PLACE_MAX = 100
NAME_MAX = 50
_PHONE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
#: Kinds of request for which the citizen must leave a phone number (we must call back).
PHONE_REQUIRED = {"求助": "求助类诉求需要留下联系电话，以便工作人员及时联系您。"}


@dataclass
class Filing:
    appeal_type: str = ""
    category: str = ""  # topic code, optional
    title: str = ""
    description: str = ""
    district: str = ""
    street: str = ""
    community: str = ""
    place_text: str = ""
    name: str = ""
    phone: str = ""
    anonymous: bool = False
    consent: bool = False
    channel: str = "form"
    errors: dict[str, str] = field(default_factory=dict)


def _clean(value: str | None) -> str:
    if value is None:
        return ""
    value = value.replace("\x00", "").replace("\r\n", "\n").strip()
    return value


def contains_nul_or_invalid(raw: str | None) -> bool:
    return raw is not None and ("\x00" in raw or "\ufffd" in raw)


def validate(data: dict[str, str | None], topic_codes: set[str]) -> Filing:
    """Build a Filing from raw form values; ``errors`` is empty when it may be filed."""
    f = Filing(
        appeal_type=_clean(data.get("appeal_type")),
        category=_clean(data.get("category")),
        title=_clean(data.get("title")),
        description=_clean(data.get("description")),
        district=_clean(data.get("district")),
        street=_clean(data.get("street")),
        community=_clean(data.get("community")),
        place_text=_clean(data.get("place_text")),
        name=_clean(data.get("name")),
        phone=re.sub(r"[\s-]", "", _clean(data.get("phone"))) if data.get("phone") else "",
        anonymous=_truthy(data.get("anonymous")),
        consent=_truthy(data.get("consent")),
        channel=_clean(data.get("channel")) or "form",
    )
    e = f.errors
    for name in ("title", "description", "name", "place_text", "district", "street", "community", "phone"):
        if contains_nul_or_invalid(data.get(name)):
            e[name] = "包含无法识别的字符，请检查后重新输入。"
    if f.appeal_type not in APPEAL_TYPES:
        e["appeal_type"] = "请选择诉求类型（投诉、举报、咨询、建议、求助、表扬）。"
    if f.category and f.category not in topic_codes:
        e["category"] = "请选择列表中的问题分类。"
    if not f.title:
        e.setdefault("title", "请填写标题。")
    elif len(f.title) > TITLE_MAX:
        e.setdefault("title", f"标题不能超过 {TITLE_MAX} 字（当前 {len(f.title)} 字）。")
    if len(re.sub(r"\s", "", f.description)) < DESCRIPTION_MIN:
        e.setdefault("description", f"请详细描述问题，不少于 {DESCRIPTION_MIN} 个字。")
    elif len(f.description) > DESCRIPTION_MAX:
        e.setdefault("description", f"问题描述不能超过 {DESCRIPTION_MAX} 字（当前 {len(f.description)} 字）。")
    for name in ("district", "street", "community"):
        if len(getattr(f, name)) > PLACE_MAX:
            e.setdefault(name, f"不能超过 {PLACE_MAX} 字。")
    if len(f.place_text) > 300:
        e.setdefault("place_text", "详细地点不能超过 300 字。")
    if f.anonymous:
        if f.appeal_type in PHONE_REQUIRED:
            e.setdefault("anonymous", "求助类诉求不能匿名提交：我们需要联系您才能提供帮助。")
        f.name, f.phone = "", ""
    else:
        if len(f.name) > NAME_MAX:
            e.setdefault("name", f"姓名不能超过 {NAME_MAX} 字。")
        if f.phone and not _PHONE.match(f.phone):
            e.setdefault("phone", "请填写正确的手机号或座机号（如 13800138000 或 0731-12345678）。")
        if not f.phone and f.appeal_type in PHONE_REQUIRED:
            e.setdefault("phone", PHONE_REQUIRED[f.appeal_type])
    if not f.consent:
        e["consent"] = "请阅读并同意个人信息使用说明后再提交。"
    return f


def _truthy(value: str | bool | None) -> bool:
    if isinstance(value, bool):
        return value
    return (value or "").strip().lower() in ("1", "on", "true", "yes", "y")
