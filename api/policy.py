"""The one declared access policy: for every route, which kinds of caller may read it and which may write.

The access-matrix test (tests/hardening/test_access_matrix.py) walks the *live* application —
every route of ``app.routes`` and every operation of the OpenAPI schema — and calls each one as
each caller below, reading (GET) and writing (POST/PUT/PATCH/DELETE). It fails when a route has
no rule here, when a rule names a route that no longer exists, and when any caller gets through
where this table says no (or is refused where it says yes). So adding a route means adding a
line here, and the line is then proven.

Callers (``CALLERS``), always about one *target* object (a case filed by a citizen and assigned
to department A, a notice addressed to department A, ...):

* ``anonymous`` — no credentials at all;
* ``citizen`` — the target case's tracking number with its valid secret query code;
* ``citizen_other`` — the target case's number with the query code of *another* case;
* ``dept_a`` — staff of the department that holds the target object;
* ``dept_b`` — staff of another department;
* ``dispatcher``, ``analyst``, ``supervisor``, ``admin`` — staff roles.

Object scope is expressed by the callers themselves: a rule that grants ``dept_a`` but not
``dept_b`` says "the department that holds it, and no other". Citizens are never signed in; their
number and code travel as the ``number``/``code`` form or query fields.

Data visibility (who may see a whistleblower's identity, a phone number, an ID card number) is
declared in ``DATA_POLICY`` below and proven by tests/hardening/test_protected_data.py.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

CALLERS = ("anonymous", "citizen", "citizen_other", "dept_a", "dept_b", "dispatcher", "analyst", "supervisor", "admin")

EVERYONE = frozenset(CALLERS)
NOBODY: frozenset[str] = frozenset()
STAFF = frozenset({"dept_a", "dept_b", "dispatcher", "analyst", "supervisor", "admin"})
ADMIN = frozenset({"admin"})
CITIZEN = frozenset({"citizen"})
#: Search and exports of the analyst console (search.service.SEARCH_ROLES).
SEARCHERS = frozenset({"analyst", "dispatcher", "supervisor", "admin"})
#: Source health pages (crawlers.views: analyst, and admin who always passes).
ANALYSTS = frozenset({"analyst", "admin"})
#: The department holding a case, and the roles that work on every case.
#: The analyst console of hot topics, alerts and briefings (search.trends.views READERS / EDITORS).
TREND_READERS = frozenset({"analyst", "dispatcher", "supervisor", "admin"})
TREND_EDITORS = frozenset({"analyst", "supervisor", "admin"})
CASE_WORKERS = frozenset({"dept_a", "dispatcher", "supervisor", "admin"})
CASE_READERS = frozenset({"dept_a", "dispatcher", "analyst", "supervisor", "admin"})
DISPATCHERS = frozenset({"dispatcher", "admin"})
SUPERVISORS = frozenset({"supervisor", "admin"})
DEPARTMENT_OWN = frozenset({"dept_a"})

READ_METHODS = frozenset({"GET", "HEAD"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Rule:
    """Who may read (GET/HEAD) and write (POST/PUT/PATCH/DELETE) the route ``pattern``.

    ``read``/``write`` of ``None`` means the route has no such method (a method the route has
    but the rule leaves ``None`` fails the test). ``checks_credentials`` marks the sign-in routes,
    whose answer to wrong credentials is a 401 for everyone (that is their job, not a refusal).
    ``limit`` names the rate-limit purpose that guards an anonymous write (see core.web.ratelimit).
    """

    pattern: str
    read: frozenset[str] | None = None
    write: frozenset[str] | None = None
    note: str = ""
    checks_credentials: bool = False
    limit: str | None = None

    def allowed(self, method: str) -> frozenset[str] | None:
        return self.read if method.upper() in READ_METHODS else self.write


POLICY: tuple[Rule, ...] = (
    # --- framework, assets ---------------------------------------------------------------------------
    Rule("/openapi.json", read=EVERYONE, note="the JSON API is documented publicly (Open311 clients)"),
    Rule("/docs", read=EVERYONE),
    Rule("/docs/oauth2-redirect", read=EVERYONE),
    Rule("/redoc", read=EVERYONE),
    Rule("/static/{package}/{path}", read=EVERYONE, note="every package's static/ folder"),

    # --- staff sign-in (api.auth_views) --------------------------------------------------------------
    Rule("/login", read=EVERYONE, write=EVERYONE, checks_credentials=True, limit="login"),
    Rule("/logout", write=EVERYONE, note="harmless when signed out"),
    Rule("/api/v1/auth/token", write=EVERYONE, checks_credentials=True, limit="token"),
    Rule("/api/v1/auth/me", read=STAFF),

    # --- queue and inbox (api.admin_views) ------------------------------------------------------------
    Rule("/api/v1/admin/outbox", read=ADMIN),
    Rule("/api/v1/admin/outbox/retry", write=ADMIN),
    Rule("/admin/outbox", read=ADMIN),
    Rule("/admin/outbox/retry", write=ADMIN),
    Rule("/api/v1/inbox", read=STAFF, note="each user's own notices"),
    Rule("/inbox", read=STAFF),
    Rule("/api/v1/inbox/{notice_id}/read", write=DEPARTMENT_OWN, note="the target notice is addressed to department A"),
    Rule("/inbox/{notice_id}/read", write=DEPARTMENT_OWN),

    # --- Open311 GeoReport v2 (api.open311): public by design, masked, never protected reports -------
    Rule("/open311/v2/services.json", read=EVERYONE),
    Rule("/open311/v2/requests.json", read=EVERYONE, write=EVERYONE, limit="file"),
    Rule("/open311/v2/requests/{request_id}.json", read=EVERYONE),

    # --- citizen pages (intake.views) ----------------------------------------------------------------
    Rule("/", read=EVERYONE),
    Rule("/file", write=EVERYONE, limit="file"),
    Rule("/track", read=EVERYONE, write=CITIZEN, note="the public timeline needs number + code",
         limit="track-fail"),

    # --- case lifecycle (cases.views) ------------------------------------------------------------------
    # The target case is assigned to department A and signed there, with one pending extension request.
    Rule("/console/department", read=frozenset({"dept_a", "dept_b", "supervisor", "admin"}),
         note="each department sees only its own inbox"),
    Rule("/console/cases/{case_id}", read=CASE_READERS),
    Rule("/console/cases/{case_id}/act", write=DEPARTMENT_OWN,
         note="probed with action=sign: a department transition, so only the holding department may"),
    Rule("/console/cases/{case_id}/identity", write=frozenset({"supervisor"}),
         note="revealing a reporter's identity: supervisors only, audited"),
    Rule("/console/cases/{case_id}/attachments/{attachment_id}", read=CASE_READERS),
    Rule("/console/dispatch", read=DISPATCHERS),
    Rule("/console/supervise", read=SUPERVISORS),
    Rule("/console/extensions/{extension_id}/decide", write=SUPERVISORS),
    Rule("/console/scorecards", read=frozenset({"supervisor", "dispatcher", "admin"})),
    Rule("/console/scorecards/export.{fmt}", read=frozenset({"supervisor", "dispatcher", "admin"})),
    Rule("/console/scorecards/{department_code}", read=SUPERVISORS),
    Rule("/scorecards", read=EVERYONE, note="the public league table (option public_scorecards, on by default)"),
    Rule("/console/admin/sla", read=ADMIN, write=ADMIN),
    Rule("/console/admin/holidays", read=ADMIN, write=ADMIN),
    Rule("/console/admin/routing", read=ADMIN, write=ADMIN),
    Rule("/track/{number}/rate", write=CITIZEN, limit="track-action"),
    Rule("/track/{number}/appeal", write=CITIZEN, limit="track-action"),
    Rule("/track/{number}/material", write=CITIZEN, limit="track-action"),
    Rule("/api/v1/cases", read=STAFF, note="a department lists only its own cases"),
    Rule("/api/v1/cases/{case_id}", read=CASE_READERS),
    Rule("/api/v1/cases/{case_id}/actions/{action}", write=DEPARTMENT_OWN, note="probed with action=sign"),
    Rule("/api/v1/cases/{case_id}/extensions", write=DEPARTMENT_OWN),
    Rule("/api/v1/extensions/{extension_id}/decision", write=SUPERVISORS),
    Rule("/api/v1/scorecards", read=EVERYONE),
    Rule("/api/v1/sla-policies", read=frozenset({"supervisor", "dispatcher", "admin"}), write=ADMIN),
    Rule("/api/v1/sla-policies/{policy_id}", write=ADMIN),
    Rule("/api/v1/holidays/{year}", read=STAFF, write=ADMIN),
    Rule("/api/v1/track/{number}/rating", write=CITIZEN, limit="track-action"),

    # --- analyst search (search.views) ---------------------------------------------------------------
    Rule("/api/v1/search", read=SEARCHERS),
    Rule("/search", read=SEARCHERS),
    Rule("/search/documents/{doc_id}", read=SEARCHERS, note="protected reports: supervisor only (data policy)"),
    Rule("/search/export.csv", read=SEARCHERS),
    Rule("/search/export.xlsx", read=SEARCHERS),
    Rule("/api/v1/search/saved", read=SEARCHERS, write=SEARCHERS, note="each user's own saved searches"),
    Rule("/api/v1/search/saved/{saved_id}", write=frozenset({"analyst"}),
         note="the target saved search belongs to the analyst"),
    Rule("/search/saved", write=SEARCHERS),
    Rule("/search/saved/{saved_id}/delete", write=frozenset({"analyst"})),

    # --- hot topics, alerts, briefings (search.trends.views) ------------------------------------------
    Rule("/dashboard", read=TREND_READERS),
    Rule("/api/v1/trends/dashboard", read=TREND_READERS),
    Rule("/hot-topics", read=TREND_READERS),
    Rule("/api/v1/hot-topics", read=TREND_READERS),
    Rule("/hot-topics/{topic_id}", read=TREND_READERS),
    Rule("/api/v1/hot-topics/{topic_id}", read=TREND_READERS),
    *(Rule(f"{prefix}/hot-topics/{{topic_id}}/{action}", write=TREND_EDITORS)
      for prefix in ("", "/api/v1") for action in ("rename", "pin", "merge", "split", "master-case")),
    *(Rule(f"{prefix}/hot-topics/{{topic_id}}/{action}", write=TREND_READERS,
           note="turning a hot topic into cases is dispatch work too")
      for prefix in ("", "/api/v1") for action in ("merge-cases", "assign")),
    Rule("/alerts", read=TREND_READERS),
    Rule("/api/v1/trends/alerts", read=TREND_READERS),
    Rule("/alerts/{alert_id}/ack", write=TREND_EDITORS),
    Rule("/api/v1/trends/alerts/{alert_id}/ack", write=TREND_EDITORS),
    Rule("/api/v1/trends/config/{name}", read=TREND_READERS, write=ADMIN, note="heat/surge/cluster weights"),
    Rule("/briefings", read=TREND_READERS),
    Rule("/api/v1/trends/briefings", read=TREND_READERS, write=TREND_EDITORS),
    Rule("/briefings/generate", write=TREND_EDITORS),
    Rule("/briefings/{briefing_id}", read=TREND_READERS),
    Rule("/api/v1/trends/briefings/{briefing_id}", read=TREND_READERS),
    Rule("/briefings/{briefing_id}.xlsx", read=TREND_READERS),

    # --- NLP review queue (nlp.views): low-confidence predictions that analysts correct ------------------
    Rule("/api/v1/review", read=ANALYSTS, write=ANALYSTS),
    Rule("/review", read=ANALYSTS),
    Rule("/review/{document_id}", write=ANALYSTS),

    # --- reply templates (cases.views) -------------------------------------------------------------------
    Rule("/api/v1/reply-templates", read=STAFF, write=ADMIN),

    # --- source health (crawlers.views) --------------------------------------------------------------
    Rule("/api/v1/sources", read=ANALYSTS),
    Rule("/api/v1/sources/{name}", read=ANALYSTS),
    Rule("/sources", read=ANALYSTS),
    Rule("/sources/{name}", read=ANALYSTS),
    Rule("/sources/{name}/run", write=ADMIN),
)


# --- data visibility ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DataRule:
    """Which callers may ever receive a kind of personal data in clear, anywhere (page, API, export, search)."""

    kind: str
    visible_to: frozenset[str]
    note: str


DATA_POLICY: tuple[DataRule, ...] = (
    DataRule("whistleblower_identity", frozenset({"supervisor"}),
             "name and phone of a protected (举报/纪检监察) reporter: supervisors only, through an audited reveal"),
    DataRule("whistleblower_report", frozenset({"supervisor", "dispatcher", "admin"}),
             "the text of a protected report: the department holding it, supervisors, dispatchers (who route it); "
             "never public, never to analysts (case console, search, hot topics, briefings)"),
    DataRule("contact", frozenset({"dept_a", "dispatcher", "supervisor"}),
             "a citizen's name and phone: the department holding the case and dispatchers (they call back); "
             "supervisors through the audited reveal"),
    DataRule("id_number", frozenset({"dept_a", "dispatcher", "supervisor", "admin", "analyst"}),
             "ID card and phone numbers typed into the text: masked in every public view and in search"),
    DataRule("door_address", frozenset({"dept_a", "dispatcher", "supervisor", "admin", "analyst"}),
             "house and door numbers: masked in every public view and in search"),
)


# --- lookup -------------------------------------------------------------------------------------------

def _regex(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", pattern)
    body = "".join("[^/]+" if p.startswith("{") and not p.endswith(":path}") and p != "{path}" else
                   ".+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{body}$")


_BY_PATTERN = {rule.pattern: rule for rule in POLICY}


def rule_for(pattern: str) -> Rule | None:
    """The rule declared for a route pattern exactly as the application declares it.

    A mounted folder (``/static/core`` serving ``/static/core/{path}``) falls under a rule whose
    pattern matches it with placeholders (``/static/{package}/{path}``).
    """
    found = _BY_PATTERN.get(pattern)
    if found is None and pattern.startswith("/static/"):
        found = next((r for r in POLICY if "{" in r.pattern and _regex(r.pattern).match(pattern)), None)
    return found


def rule_for_path(path: str) -> Rule | None:
    """The rule whose pattern matches a concrete path (most specific first: fewest placeholders)."""
    for rule in sorted(POLICY, key=lambda r: (r.pattern.count("{"), -len(r.pattern))):
        if _regex(rule.pattern).match(path):
            return rule
    return None


def staff_roles(callers: frozenset[str]) -> set[str]:
    """The core.models.ROLES a set of callers corresponds to (dept_a/dept_b are both ``department``)."""
    mapping = {"dept_a": "department", "dept_b": "department", "dispatcher": "dispatcher", "analyst": "analyst",
               "supervisor": "supervisor", "admin": "admin"}
    return {mapping[c] for c in callers if c in mapping}
