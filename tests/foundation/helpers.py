"""Helpers for filing through the real form in tests."""
from __future__ import annotations

import re

from tests.conftest import csrf_token

GOOD = {
    "appeal_type": "投诉",
    "category": "urban",
    "title": "小区楼下烧烤店噪音扰民",
    "description": "我们小区楼下的烧烤店每天营业到凌晨三点，噪音和油烟非常大，严重影响居民休息，请有关部门处理。",
    "district": "A2区",
    "street": "桂花坪街道",
    "community": "景蓉社区",
    "place_text": "景蓉华苑 3 栋",
    "name": "张三",
    "phone": "13800138000",
    "consent": "1",
}

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7V\xbd\xfa\x00\x00\x00\x00IEND\xaeB`\x82")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def file_form(client, files=None, **overrides):
    data = {**GOOD, **overrides, "csrf_token": csrf_token(client)}
    data = {k: v for k, v in data.items() if v is not None}
    return client.post("/file", data=data, files=files)


def receipt(response) -> tuple[str, str | None]:
    number = re.search(r'id="tracking-number">([^<]+)<', response.text).group(1)
    code = re.search(r'id="query-code">([^<]+)<', response.text)
    return number, code.group(1) if code else None


def track(client, number: str, code: str):
    return client.post("/track", data={"number": number, "code": code, "csrf_token": csrf_token(client)})
