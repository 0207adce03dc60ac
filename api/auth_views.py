"""Staff sign-in: the login page (session cookie), logout, and bearer tokens for API clients."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from core import accounts, audit
from core.settings import get_settings
from core.web import current_user, csrf_protect, get_session, optional_user, render
from core.web.ratelimit import enforce
from core.web.tokens import SESSION_COOKIE, issue

router = APIRouter()

HOME_BY_ROLE = {
    "admin": "/console/dispatch", "dispatcher": "/console/dispatch", "department": "/console/department",
    "supervisor": "/console/supervise", "analyst": "/search",
}


def _safe_next(target: str | None, role: str) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME_BY_ROLE.get(role, "/inbox")


@router.get("/login", include_in_schema=False)
def login_page(request: Request, next: str | None = None, _user=Depends(optional_user)):
    return render(request, "login.html", {"next": next or "", "error": None})


@router.post("/login", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def login_submit(
    request: Request,
    username: str = Form("", max_length=64),
    password: str = Form("", max_length=256),
    next: str = Form("", max_length=500),
    session: Session = Depends(get_session),
):
    enforce(request, "login", 30, 300)
    result = accounts.authenticate(session, username.strip(), password)
    if result.user is None:
        session.commit()  # keep the failure count even though the answer is an error
        message = "账号已被锁定，请稍后再试或联系管理员。" if result.locked else "用户名或密码不正确。"
        return render(request, "login.html", {"next": next, "error": message, "username": username}, status_code=401)
    audit.append(session, f"user:{result.user.id}", "user.login", f"user:{result.user.id}", {})
    response = RedirectResponse(_safe_next(next, result.user.role), status_code=303)
    response.set_cookie(SESSION_COOKIE, issue(result.user.id, result.user.session_version), httponly=True,
                        samesite="lax", secure=get_settings().cookie_secure,
                        max_age=get_settings().session_hours * 3600, path="/")
    return response


@router.post("/logout", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def logout(request: Request):
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


class TokenAnswer(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


@router.post("/api/v1/auth/token", response_model=TokenAnswer, tags=["auth"],
             responses={401: {"description": "用户名或密码错误，或账号已锁定"}, 429: {"description": "尝试过于频繁"}})
def token(
    request: Request,
    username: str = Form(..., max_length=64),
    password: str = Form(..., max_length=256),
    session: Session = Depends(get_session),
):
    """Exchange a staff username and password (form fields) for a bearer token."""
    enforce(request, "token", 30, 300)
    result = accounts.authenticate(session, username.strip(), password)
    if result.user is None:
        session.commit()
        detail = "账号已被锁定，请稍后再试。" if result.locked else "用户名或密码不正确。"
        return JSONResponse({"detail": detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
    audit.append(session, f"user:{result.user.id}", "user.token", f"user:{result.user.id}", {})
    return TokenAnswer(access_token=issue(result.user.id, result.user.session_version, kind="api"),
                       expires_in=get_settings().session_hours * 3600)


class Me(BaseModel):
    id: int
    username: str
    role: str
    department: str | None


@router.get("/api/v1/auth/me", response_model=Me, tags=["auth"])
def me(user=Depends(current_user)):
    """Who the token or session belongs to."""
    return Me(id=user.id, username=user.username, role=user.role, department=user.department_code)
