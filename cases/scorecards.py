"""Department scorecards: per department and period, the figures that make delays visible.

Received, signed on time %, answered on time %, median and p90 working days to answer,
overdue now, extensions, returns, reopen rate, satisfaction among rated cases (with the
number rated; fewer than N rated → "too few to rank") and cases closed unrated (counted
separately, never as satisfied). The same rows feed the public league table, the supervisor
view, the CSV/Excel export and ``GET /api/v1/scorecards``.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import statistics
from dataclasses import asdict, dataclass, field

from sqlalchemy import and_, case as sql_case, distinct, func, or_, select
from sqlalchemy.orm import Session

from cases import clocks, options
from cases.errors import InvalidInput
from cases.models import Clock, Extension, Rating
from core.calendar import SHANGHAI
from core.database import utcnow
from core.models import Case, CaseEvent, Department

_PERIOD = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


@dataclass
class Period:
    label: str
    start: dt.datetime
    end: dt.datetime


def parse_period(text: str | None, now: dt.datetime | None = None) -> Period:
    """``YYYY-MM`` (a month) or ``YYYY`` (a year), in Asia/Shanghai; default this month."""
    now = now or utcnow()
    if not text:
        text = now.astimezone(SHANGHAI).strftime("%Y-%m")
    m = _PERIOD.match(text.strip())
    if not m or not 2000 <= int(m.group(1)) <= 2200 or (m.group(2) and not 1 <= int(m.group(2)) <= 12):
        raise InvalidInput("统计周期格式应为 YYYY-MM（如 2026-11）或 YYYY。", field="period")
    year = int(m.group(1))
    if m.group(2):
        month = int(m.group(2))
        start = dt.datetime(year, month, 1, tzinfo=SHANGHAI)
        end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=SHANGHAI)
    else:
        start, end = dt.datetime(year, 1, 1, tzinfo=SHANGHAI), dt.datetime(year + 1, 1, 1, tzinfo=SHANGHAI)
    return Period(text.strip(), start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc))


@dataclass
class Scorecard:
    department_code: str
    department: str
    received: int = 0
    signed_on_time: int = 0
    signed_late: int = 0
    answered_on_time: int = 0
    answered_late: int = 0
    median_days_to_answer: float | None = None
    p90_days_to_answer: float | None = None
    overdue_now: int = 0
    extensions: int = 0
    returns: int = 0
    answers: int = 0
    reopened: int = 0
    rated: int = 0
    satisfied: int = 0
    unrated: int = 0
    rankable: bool = False
    rank: int | None = None
    _days: list[float] = field(default_factory=list, repr=False)

    @staticmethod
    def _pct(num: int, den: int) -> float | None:
        return round(100.0 * num / den, 1) if den else None

    @property
    def signed_on_time_pct(self) -> float | None:
        return self._pct(self.signed_on_time, self.signed_on_time + self.signed_late)

    @property
    def answered_on_time_pct(self) -> float | None:
        return self._pct(self.answered_on_time, self.answered_on_time + self.answered_late)

    @property
    def reopen_rate_pct(self) -> float | None:
        return self._pct(self.reopened, self.answers)

    @property
    def satisfaction_pct(self) -> float | None:
        return self._pct(self.satisfied, self.rated)

    def as_dict(self) -> dict[str, object]:
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        data.update(signed_on_time_pct=self.signed_on_time_pct, answered_on_time_pct=self.answered_on_time_pct,
                    reopen_rate_pct=self.reopen_rate_pct, satisfaction_pct=self.satisfaction_pct)
        return data


COLUMNS: list[tuple[str, str]] = [
    ("rank", "排名"), ("department", "部门"), ("received", "受理件数"), ("signed_on_time_pct", "按时签收率%"),
    ("answered_on_time_pct", "按时答复率%"), ("median_days_to_answer", "答复用时中位数（工作日）"),
    ("p90_days_to_answer", "答复用时P90（工作日）"), ("overdue_now", "当前超期"), ("extensions", "延期"),
    ("returns", "退回"), ("reopen_rate_pct", "重办率%"), ("satisfaction_pct", "满意率%"), ("rated", "评价数"),
    ("unrated", "未评价办结"),
]


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * 9 // 10) - 1)]


def compute(session: Session, period: Period, now: dt.datetime | None = None) -> list[Scorecard]:
    now = now or utcnow()
    cards = {d.code: Scorecard(d.code, d.name) for d in session.scalars(
        select(Department).where(Department.active.is_(True)).order_by(Department.code))}

    def card(code: str | None) -> Scorecard | None:
        return cards.get(code) if code else None

    in_period = lambda col: and_(col >= period.start, col < period.end)  # noqa: E731

    for code, n in session.execute(
            select(Clock.department_code, func.count(distinct(Clock.case_id)))
            .where(Clock.kind == "sign", Clock.reason == "assigned", in_period(Clock.started_at))
            .group_by(Clock.department_code)):
        if (c := card(code)) is not None:
            c.received = n
    late_expr = or_(and_(Clock.state == "stopped", Clock.on_time.is_(False)),
                    and_(Clock.state.in_(clocks.OPEN_STATES), Clock.due_at < now))
    for kind in ("sign", "answer"):
        rows = session.execute(
            select(Clock.department_code,
                   func.sum(sql_case((and_(Clock.state == "stopped", Clock.on_time.is_(True)), 1), else_=0)),
                   func.sum(sql_case((late_expr, 1), else_=0)))
            .where(Clock.kind == kind, in_period(Clock.started_at), Clock.state != "cancelled")
            .group_by(Clock.department_code))
        for code, ok, late in rows:
            if (c := card(code)) is not None:
                setattr(c, f"{kind}ed_on_time" if kind == "sign" else "answered_on_time", int(ok or 0))
                setattr(c, "signed_late" if kind == "sign" else "answered_late", int(late or 0))
    for code, days in session.execute(
            select(Clock.department_code, Clock.work_days_used)
            .where(Clock.kind == "answer", Clock.state == "stopped", in_period(Clock.stopped_at))):
        if (c := card(code)) is not None and days is not None:
            c._days.append(days)
    for code, n in session.execute(
            select(Clock.department_code, func.count(distinct(Clock.case_id)))
            .where(Clock.kind.in_(("sign", "answer")), Clock.state.in_(clocks.OPEN_STATES), Clock.due_at < now)
            .group_by(Clock.department_code)):
        if (c := card(code)) is not None:
            c.overdue_now = n
    for code, n in session.execute(
            select(Extension.department_code, func.count()).where(Extension.status == "approved",
                                                                  in_period(Extension.decided_at))
            .group_by(Extension.department_code)):
        if (c := card(code)) is not None:
            c.extensions = n
    for kind, attr in (("returned", "returns"), ("answered", "answers"), ("reopened", "reopened")):
        for code, n in session.execute(
                select(CaseEvent.department_code, func.count()).where(CaseEvent.kind == kind, in_period(CaseEvent.at))
                .group_by(CaseEvent.department_code)):
            if (c := card(code)) is not None:
                setattr(c, attr, n)
    for code, n in session.execute(
            select(CaseEvent.department_code, func.count()).where(
                CaseEvent.kind == "closed", CaseEvent.actor_role == "system", in_period(CaseEvent.at))
            .group_by(CaseEvent.department_code)):
        if (c := card(code)) is not None:
            c.unrated = n
    for code, rating, n in session.execute(
            select(Rating.department_code, Rating.rating, func.count()).where(in_period(Rating.rated_at))
            .group_by(Rating.department_code, Rating.rating)):
        if (c := card(code)) is not None:
            c.rated += n
            if rating in ("satisfied", "basic"):
                c.satisfied += n
    minimum = options.get(session, "min_rated_to_rank")
    for c in cards.values():
        if c._days:
            c.median_days_to_answer = round(statistics.median(c._days), 2)
            c.p90_days_to_answer = round(_p90(c._days), 2)
        c.rankable = c.rated >= minimum and c.rated > 0
    ranked = sorted((c for c in cards.values() if c.rankable),
                    key=lambda c: (-(c.satisfaction_pct or 0), -(c.answered_on_time_pct or 0), -c.received, c.department))
    for n, c in enumerate(ranked, 1):
        c.rank = n
    rest = sorted((c for c in cards.values() if not c.rankable), key=lambda c: (-c.received, c.department))
    return ranked + rest


def _cell(card: Scorecard, key: str) -> object:
    if key == "rank":
        return card.rank if card.rankable else "样本不足"
    value = getattr(card, key)
    return "" if value is None else value


def to_csv(cards: list[Scorecard]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([label for _key, label in COLUMNS])
    for card in cards:
        writer.writerow([_cell(card, key) for key, _label in COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens it as UTF-8


def to_xlsx(cards: list[Scorecard], period: Period) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    wb = Workbook()
    ws = wb.active
    ws.title = f"部门考评 {period.label}"[:31]
    ws.append([label for _key, label in COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for card in cards:
        ws.append([_cell(card, key) for key, _label in COLUMNS])
    ws.column_dimensions["B"].width = 24
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@dataclass
class Drilldown:
    overdue: list[Case]
    late_answers: list[tuple[Case, Clock]]
    unsatisfied: list[tuple[Case, Rating]]
    returns: list[tuple[Case, CaseEvent]]


def drilldown(session: Session, department_code: str, period: Period, now: dt.datetime | None = None) -> Drilldown:
    """The cases behind a department's figures, for supervisors."""
    now = now or utcnow()
    overdue = list(session.scalars(
        select(Case).where(Case.id.in_(select(Clock.case_id).where(
            Clock.department_code == department_code, Clock.kind.in_(("sign", "answer")),
            Clock.state.in_(clocks.OPEN_STATES), Clock.due_at < now))).order_by(Case.due_at).limit(500)))
    late = list(session.execute(
        select(Case, Clock).join(Clock, Clock.case_id == Case.id).where(
            Clock.department_code == department_code, Clock.kind == "answer", Clock.state == "stopped",
            Clock.on_time.is_(False), Clock.stopped_at >= period.start, Clock.stopped_at < period.end)
        .order_by(Clock.stopped_at).limit(500)))
    unsatisfied = list(session.execute(
        select(Case, Rating).join(Rating, Rating.case_id == Case.id).where(
            Rating.department_code == department_code, Rating.rating == "unsatisfied",
            Rating.rated_at >= period.start, Rating.rated_at < period.end).order_by(Rating.rated_at).limit(500)))
    returns = list(session.execute(
        select(Case, CaseEvent).join(CaseEvent, CaseEvent.case_id == Case.id).where(
            CaseEvent.department_code == department_code, CaseEvent.kind == "returned",
            CaseEvent.at >= period.start, CaseEvent.at < period.end).order_by(CaseEvent.at).limit(500)))
    return Drilldown(overdue, late, unsatisfied, returns)
