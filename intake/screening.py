"""Screening of submissions: gibberish, abuse and spam are held for a dispatcher, never dropped."""
from __future__ import annotations

import re

#: Abuse that has no place in a filing; kept short and specific to avoid holding real complaints.
ABUSIVE = ("操你妈", "草泥马", "傻逼", "煞笔", "狗日的", "去死吧", "你妈死了", "fuck you", "婊子")
_URL = re.compile(r"https?://|www\.", re.I)
_CJK = re.compile(r"[\u3400-\u9fff]")


def hold_reason(title: str, description: str) -> str | None:
    """A Chinese reason for holding the filing, or None when it may proceed."""
    text = f"{title}\n{description}"
    compact = re.sub(r"\s+", "", text)
    lowered = compact.lower()
    if any(word in lowered for word in ABUSIVE):
        return "含有辱骂性用语，待人工审核"
    if len(_URL.findall(text)) >= 3:
        return "包含多个网址，疑似广告，待人工审核"
    body = re.sub(r"\s+", "", description)
    if body:
        cjk = len(_CJK.findall(body))
        distinct = len(set(body))
        if distinct <= 3 or (len(body) >= 20 and distinct / len(body) < 0.12):
            return "内容大量重复，疑似无意义内容，待人工审核"
        if cjk / max(1, len(body)) < 0.15:
            return "内容几乎不含中文，无法识别，待人工审核"
    return None
