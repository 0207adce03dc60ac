"""The review queue: ``GET /api/v1/review`` lists low-confidence predictions, ``POST /api/v1/review``
stores an analyst's correction; ``/review`` is the same as a server-rendered page."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from core.models import User
from core.web import csrf_protect, get_session, render, require_roles
from nlp import service
from nlp.labels import APPEALS, RISKS, SENTIMENTS, TOPICS

router = APIRouter()
reviewer = require_roles("analyst")

SENTIMENT_LABELS = {"negative": "负面", "neutral": "中性", "positive": "正面"}
RISK_LABELS = {"group_action": "群体性事件", "self_harm": "自伤倾向", "violence": "暴力威胁",
               "safety_hazard": "安全隐患", "minor": "涉及未成年人", "repeat": "重复反映"}
REASON_LABELS = {"empty": "无可分析文本", "low_topic": "主题置信度低", "low_sentiment": "情感置信度低",
                 "low_appeal": "诉求类型置信度低"}


class CorrectionIn(BaseModel):
    document_id: int = Field(..., ge=1, description="文档编号")
    topic: str | None = Field(None, description="主题（LABELS.md 的 15 类之一）")
    sentiment: str | None = Field(None, description="negative | neutral | positive")
    appeal: str | None = Field(None, description="投诉 | 举报 | 咨询 | 建议 | 求助 | 表扬")
    risk: list[str] | None = Field(None, description="风险标记列表；空列表表示无风险")
    note: str | None = Field(None, max_length=500, description="备注")


def _store(session: Session, user: User, data: dict[str, Any]):
    try:
        return service.correct(session, user=user, **data)
    except service.ReviewError as exc:
        session.rollback()
        raise HTTPException(status_code=exc.status, detail=exc.message) from None


@router.get("/api/v1/review", tags=["nlp"])
def api_queue(
    limit: int = Query(50, ge=1, le=200, description="每页条数 1–200"),
    offset: int = Query(0, ge=0, description="跳过条数"),
    topic: str | None = Query(None, description="只看某一主题"),
    session: Session = Depends(get_session),
    user: User = Depends(reviewer),
):
    """Documents whose prediction is below the confidence threshold, least confident first.

    Answers ``{"total", "items": [{"id", "title", "excerpt", "topic", "topic_score", "sentiment",
    "sentiment_score", "appeal", "appeal_score", "risk", "reasons"}]}``; excerpts are masked.
    """
    if topic is not None and topic not in TOPICS:
        raise HTTPException(status_code=400, detail=f"主题“{topic}”无效，可选值：{'、'.join(TOPICS)}。")
    items, total = service.queue(session, limit, offset, topic, include_protected=service.may_see_protected(user))
    return {"total": total, "items": [i.as_dict() for i in items]}


@router.post("/api/v1/review", tags=["nlp"], status_code=201)
def api_correct(body: CorrectionIn, session: Session = Depends(get_session), user: User = Depends(reviewer),
                _csrf: None = Depends(csrf_protect)):
    """Store a correction of one document's labels; the document leaves the queue and the next
    ``minsheng train`` learns from it."""
    row = _store(session, user, body.model_dump())
    session.commit()
    return {"id": row.id, "document_id": row.document_id, "topic": row.topic, "sentiment": row.sentiment,
            "appeal": row.appeal, "risk": row.risk, "by": row.username}


@router.get("/review", include_in_schema=False)
def review_page(request: Request, offset: int = Query(0, ge=0), session: Session = Depends(get_session),
                user: User = Depends(reviewer)):
    items, total = service.queue(session, 20, offset, include_protected=service.may_see_protected(user))
    return render(request, "nlp/review.html", {
        "items": items, "total": total, "offset": offset, "topics": TOPICS, "sentiments": SENTIMENTS,
        "appeals": APPEALS, "risks": RISKS, "sentiment_labels": SENTIMENT_LABELS, "risk_labels": RISK_LABELS,
        "reason_labels": REASON_LABELS, "saved": request.query_params.get("saved"),
    })


@router.post("/review/{document_id}", include_in_schema=False)
def review_submit(
    request: Request,
    document_id: int,
    topic: str = Form(""),
    sentiment: str = Form(""),
    appeal: str = Form(""),
    risk: list[str] = Form([]),
    note: str = Form(""),
    session: Session = Depends(get_session),
    user: User = Depends(reviewer),
    _csrf: None = Depends(csrf_protect),
):
    risk = [r for r in risk if r]
    _store(session, user, {"document_id": document_id, "topic": topic or None, "sentiment": sentiment or None,
                           "appeal": appeal or None, "risk": risk, "note": note or None})
    session.commit()
    return RedirectResponse(f"/review?saved={document_id}", status_code=303)
