"""What the public tracking page and Open311 may show of a case: no staff names, personal data masked."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from core.masking import mask_personal_data
from core.models import Case, Department
from core.models.cases import STATUS_LABELS

EVENT_LABELS = {
    "submitted": "提交诉求", "held": "待人工审核", "released": "审核通过", "accepted": "受理",
    "rejected": "不予受理", "assigned": "交办", "signed": "签收", "in_progress": "办理中",
    "waiting_citizen": "请求补充材料", "material_received": "已补充材料", "returned": "退回重新分派",
    "transferred": "转办", "extension_requested": "申请延期", "extended": "延期", "answered": "答复",
    "rated": "评价", "reopened": "重新办理", "appealed": "申请复查", "appeal_decided": "复查结论",
    "merged": "并案办理", "closed": "办结", "reply_found": "公开答复", "escalated": "督办",
}
OPEN_STATUSES = {"held", "submitted", "accepted", "assigned", "signed", "in_progress", "waiting_citizen",
                 "returned", "reopened", "appealed"}


@dataclass
class PublicStep:
    at: dt.datetime
    label: str
    status: str
    department: str | None
    note: str | None


@dataclass
class PublicCase:
    tracking_number: str
    title: str
    appeal_type: str
    status: str
    status_label: str
    department: str | None
    created_at: dt.datetime
    due_at: dt.datetime | None
    due_estimated: bool
    answer: str | None
    answered_at: dt.datetime | None
    place: str
    description: str
    steps: list[PublicStep] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


def department_names(session: Session) -> dict[str, str]:
    return {d.code: d.name for d in session.query(Department).all()}


def public_view(session: Session, case: Case, names: dict[str, str] | None = None) -> PublicCase:
    names = names if names is not None else department_names(session)
    answer_source = case
    if case.master_case_id and not case.answer_body:
        master = session.get(Case, case.master_case_id)
        if master is not None and master.answer_body:
            answer_source = master
    steps = [
        PublicStep(e.at, EVENT_LABELS.get(e.kind, e.kind), STATUS_LABELS.get(e.status_after, e.status_after),
                   names.get(e.department_code) if e.department_code else None,
                   mask_personal_data(e.public_note) if e.public_note else None)
        for e in case.events if e.public
    ]
    place = " ".join(p for p in (case.place_district, case.place_street, case.place_community) if p)
    return PublicCase(
        tracking_number=case.tracking_number,
        title=mask_personal_data(case.title),
        appeal_type=case.appeal_type,
        status=case.status,
        status_label=STATUS_LABELS.get(case.status, case.status),
        department=names.get(case.department_code) if case.department_code else None,
        created_at=case.created_at,
        due_at=case.due_at,
        due_estimated=case.due_estimated,
        answer=mask_personal_data(answer_source.answer_body) if answer_source.answer_body else None,
        answered_at=answer_source.answered_at,
        place=mask_personal_data(place),
        description=mask_personal_data(case.document.body) if not case.protected else "（举报内容受保护，不公开显示）",
        steps=steps,
    )
