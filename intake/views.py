"""The citizen's pages: the filing form, the receipt, and the public tracking page."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request, UploadFile
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from core.models import Case, Topic
from core.settings import Settings, get_settings
from core.web import csrf_protect, get_session, render
from core.web.ratelimit import client_ip, enforce, limiter
from intake import attachments as files
from intake.codes import format_query_code, normalise_tracking_number, verify_query_code
from intake.forms import validate
from intake.public import public_view
from intake.service import file_case

router = APIRouter()

TRACK_FAILURE_WINDOW = 900.0


def _topics(session: Session) -> list[Topic]:
    return list(session.scalars(select(Topic).order_by(Topic.position)))


@router.get("/", include_in_schema=False)
def form_page(request: Request, session: Session = Depends(get_session)):
    return render(request, "file.html", {"topics": _topics(session), "f": None, "errors": {}})


async def read_uploads(uploads: list[UploadFile]) -> tuple[list[files.CheckedFile], str | None]:
    """Read and check every upload; returns the files or the first problem, in Chinese."""
    settings = get_settings()
    present = [u for u in uploads if u is not None and (u.filename or u.size)]
    if len(present) > files.MAX_FILES:
        return [], f"最多上传 {files.MAX_FILES} 个附件。"
    checked = []
    limit = settings.max_upload_mb * 1024 * 1024
    for upload in present:
        data = await upload.read(limit + 1)
        try:
            checked.append(files.check_file(upload.filename, data, settings))
        except files.AttachmentError as exc:
            return [], str(exc)
    return checked, None


@router.post("/file", include_in_schema=False, dependencies=[Depends(csrf_protect)])
async def file_submit(request: Request, session: Session = Depends(get_session)):
    settings = get_settings()
    enforce(request, "file", settings.intake_rate_limit, settings.intake_rate_window)
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    uploads = [v for v in form.getlist("attachments") if not isinstance(v, str)]
    checked, problem = await read_uploads(uploads)
    # Reading the body is async; the database work (a write may wait on a lock) and argon2 hashing run
    # in the thread pool, so one slow filing never stalls every other request on the event loop.
    return await run_in_threadpool(_file, request, session, values, checked, problem, settings)


def _file(request: Request, session: Session, values: dict[str, str], checked: list[files.CheckedFile],
          problem: str | None, settings: Settings):
    topics = _topics(session)
    filing = validate(values, {t.code for t in topics})
    if problem:
        filing.errors["attachments"] = problem
    if filing.errors:
        return render(request, "file.html", {"topics": topics, "f": filing, "errors": filing.errors}, status_code=422)
    result = file_case(session, filing, checked, client_ip(request), settings)
    session.commit()
    return render(request, "receipt.html", {
        "case": result.case, "duplicate": result.duplicate,
        "code": format_query_code(result.query_code) if result.query_code else None,
    }, status_code=200 if result.duplicate else 201)


@router.get("/track", include_in_schema=False)
def track_page(request: Request):
    return render(request, "track.html", {"error": None, "case": None, "number": ""})


def _track_failures(request: Request) -> int:
    return limiter.count(f"track-fail:{client_ip(request)}", TRACK_FAILURE_WINDOW)


@router.post("/track", include_in_schema=False, dependencies=[Depends(csrf_protect)])
async def track_submit(request: Request, session: Session = Depends(get_session)):
    settings = get_settings()
    form = await request.form()
    number = normalise_tracking_number(str(form.get("number", ""))[:40])
    code = str(form.get("code", ""))[:40]
    return await run_in_threadpool(_track, request, session, number, code, settings)  # argon2 and the database


def _track(request: Request, session: Session, number: str, code: str, settings: Settings):
    failures = _track_failures(request)
    if failures >= settings.tracking_max_failures:
        wait = min(900, 2 ** (failures - settings.tracking_max_failures + 3))
        enforce(request, "track-backoff", 1, wait)
    case = session.scalar(select(Case).where(Case.tracking_number == number)) if number else None
    if case is None or not verify_query_code(case, code):
        limiter.hit(f"track-fail:{client_ip(request)}", 10_000, TRACK_FAILURE_WINDOW)
        return render(request, "track.html", {
            "error": "受理编号或查询码不正确，请核对回执后重试。", "case": None, "number": number,
        }, status_code=404)
    view = public_view(session, case)
    return render(request, "track.html", {"error": None, "case": view, "number": number, "code": code,
                                          "raw_case": case})
