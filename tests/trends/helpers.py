"""Documents as the NLP stage leaves them, fed to the trends stage directly (no other stage runs)."""
from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy.orm import Session

from core.ingest import IncomingDocument, add_document
from core.models import Document
from search.trends.stages import trends_stage

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)
_ids = itertools.count(1)


def add_doc(session: Session, title: str, body: str = "", *, places: list[str] | None = None, label: str | None = "城乡建设",
            at: dt.datetime | None = None, author: str | None = None, risk: list[str] | None = None,
            sentiment: str | None = "negative", likes: int | None = None, source: str = "gov_messages",
            keywords: list[str] | None = None, simhash: int | None = None, process: bool = True) -> Document:
    n = next(_ids)
    doc = add_document(session, IncomingDocument(
        source=source, external_id=f"t{n}", title=title, body=body or title, author=author or f"U{n}",
        published_at=at or T0, likes=likes))
    doc.places = places if places is not None else []
    doc.topic = label
    doc.sentiment = sentiment
    doc.risk = risk or []
    doc.has_risk = bool(risk)
    if keywords is not None:
        doc.keywords = keywords
    if simhash is not None:
        doc.simhash = simhash
        u = simhash & 0xFFFFFFFFFFFFFFFF
        doc.sim_band0, doc.sim_band1, doc.sim_band2, doc.sim_band3 = ((u >> s) & 0xFFFF for s in (0, 16, 32, 48))
    session.flush()
    if process:
        trends_stage(session, doc)
        session.flush()
    return doc


INCIDENT = [
    "丽发新城小区旁搅拌站噪音扰民", "丽发新城附近搅拌站夜间施工噪音太大", "投诉丽发新城搅拌站粉尘和噪音",
    "丽发新城小区居民被搅拌站噪音吵得无法入睡", "丽发新城搅拌站违规夜间作业扰民", "请处理丽发新城旁的搅拌站噪音问题",
    "丽发新城搅拌站灰尘大噪音大", "丽发新城业主投诉搅拌站扰民", "搅拌站噪音严重影响丽发新城居民休息",
    "丽发新城旁搅拌站凌晨还在施工", "丽发新城小区附近搅拌站污染严重", "再次反映丽发新城搅拌站扰民",
]
OTHERS = [
    ("咨询公积金贷款额度如何计算", "劳动和社会保障", []), ("三一大道红绿灯时间设置不合理", "交通运输", ["三一大道"]),
    ("郝家坪小学什么时候能改扩建", "教育文体", ["郝家坪小学"]), ("农村合作医疗报销比例咨询", "卫生计生", []),
    ("建议增加地铁3号线早高峰班次", "交通运输", ["地铁3号线"]), ("人才购房补贴申请进度查询", "城乡建设", []),
]
