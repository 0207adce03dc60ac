"""Admin views of the processing queue (dead letters with retry) and everyone's in-app inbox."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.database import utcnow
from core.models import Notice, OutboxItem, User
from core.models.outbox import DEAD
from core.notices import inbox, inbox_filter
from core.outbox import service as outbox
from core.web import csrf_protect, current_user, get_session, render, require_roles

router = APIRouter()


class OutboxRow(BaseModel):
    id: int
    document_id: int
    pipeline: str
    status: str
    attempts: int
    stages_done: list[str]
    last_error: str | None


class OutboxSummary(BaseModel):
    counts: dict[str, int]
    dead: list[OutboxRow]


def _dead_rows(session: Session) -> list[OutboxItem]:
    return list(session.scalars(select(OutboxItem).where(OutboxItem.status == DEAD).order_by(OutboxItem.id.desc()).limit(200)))


@router.get("/api/v1/admin/outbox", response_model=OutboxSummary, tags=["admin"])
def outbox_summary(session: Session = Depends(get_session), _user: User = Depends(require_roles("admin"))):
    """Queue counts by status and the dead-letter rows with their last error."""
    return OutboxSummary(
        counts=outbox.counts(session),
        dead=[OutboxRow(id=i.id, document_id=i.document_id, pipeline=i.pipeline, status=i.status, attempts=i.attempts,
                        stages_done=i.stages_done or [], last_error=(i.last_error or "")[-2000:]) for i in _dead_rows(session)],
    )


class RetryAnswer(BaseModel):
    requeued: int


@router.post("/api/v1/admin/outbox/retry", response_model=RetryAnswer, tags=["admin"],
             dependencies=[Depends(csrf_protect)])
def outbox_retry(ids: list[int] | None = None, session: Session = Depends(get_session),
                 user: User = Depends(require_roles("admin"))):
    """Put dead-letter rows (all, or the given ids) back in the queue."""
    n = outbox.retry_dead(session, ids)
    audit.append(session, f"user:{user.id}", "outbox.retry", "outbox", {"ids": ids, "requeued": n})
    return RetryAnswer(requeued=n)


@router.get("/admin/outbox", include_in_schema=False)
def outbox_page(request: Request, session: Session = Depends(get_session), _user: User = Depends(require_roles("admin"))):
    return render(request, "outbox.html", {"counts": outbox.counts(session), "dead": _dead_rows(session)})


@router.post("/admin/outbox/retry", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def outbox_retry_form(item_id: int | None = Form(None), session: Session = Depends(get_session),
                      user: User = Depends(require_roles("admin"))):
    n = outbox.retry_dead(session, [item_id] if item_id else None)
    audit.append(session, f"user:{user.id}", "outbox.retry", "outbox", {"ids": [item_id] if item_id else None, "requeued": n})
    return RedirectResponse("/admin/outbox", status_code=303)


class NoticeOut(BaseModel):
    id: int
    kind: str
    level: str
    title: str
    body: str
    link: str | None
    created_at: str
    read: bool


@router.get("/api/v1/inbox", response_model=list[NoticeOut], tags=["inbox"])
def inbox_api(unread: bool = False, session: Session = Depends(get_session), user: User = Depends(current_user)):
    """The signed-in user's notices (addressed to them, their role or their department)."""
    return [NoticeOut(id=n.id, kind=n.kind, level=n.level, title=n.title, body=n.body, link=n.link,
                      created_at=n.created_at.isoformat(), read=n.read_at is not None)
            for n in inbox(session, user, unread_only=unread)]


@router.post("/api/v1/inbox/{notice_id}/read", status_code=204, tags=["inbox"], dependencies=[Depends(csrf_protect)])
def inbox_mark_read(notice_id: int, session: Session = Depends(get_session), user: User = Depends(current_user)):
    """Mark one notice read."""
    notice = session.scalar(select(Notice).where(Notice.id == notice_id, inbox_filter(user)))
    if notice is None:
        raise HTTPException(404, "没有这条消息。")
    notice.read_at = notice.read_at or utcnow()


@router.get("/inbox", include_in_schema=False)
def inbox_page(request: Request, session: Session = Depends(get_session), user: User = Depends(current_user)):
    return render(request, "inbox.html", {"notices": inbox(session, user)})


@router.post("/inbox/{notice_id}/read", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def inbox_read_form(notice_id: int, session: Session = Depends(get_session), user: User = Depends(current_user)):
    inbox_mark_read(notice_id, session, user)
    return RedirectResponse("/inbox", status_code=303)
