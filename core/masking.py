"""Masking of personal data (phone numbers, ID card numbers, addresses, names) for public views, search and logs."""
from __future__ import annotations

import re

_ID_CARD = re.compile(r"(?<![0-9A-Za-z])([1-9]\d{5})(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}([\dXx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[- ]?(\d{7,8})(?!\d)")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
#: House numbers in addresses: "…路12号3栋402室" keeps the road, hides the door.
_DOOR = re.compile(r"(\d+|[一二三四五六七八九十百]+)(号楼|栋|幢|单元|号|室|楼)(?:\s*\d+(?:号楼|栋|幢|单元|号|室|楼))*")


def mask_phone(text: str) -> str:
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(2)[-2:]}", text)


def mask_id_card(text: str) -> str:
    return _ID_CARD.sub(lambda m: m.group(1)[:3] + "*" * 14 + m.group(2), text)


def mask_personal_data(text: str | None) -> str:
    """Mask ID cards, phones, e-mails and door numbers in free text."""
    if not text:
        return text or ""
    text = mask_id_card(text)
    text = mask_phone(text)
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return _DOOR.sub(lambda m: "**" + m.group(2), text)


def mask_name(name: str | None) -> str:
    """张三丰 → 张**; used wherever a citizen's name is shown outside the supervising role."""
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def mask_phone_number(phone: str | None) -> str:
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "****"
