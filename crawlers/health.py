"""Source health: per site the last successful run, items per day, error rate, the last errors, and
warnings when a site suddenly yields nothing (a changed layout, a block, an expired cookie).

The signal for "yields nothing" is ``entries_found`` — entries read off list pages, seen or not —
rather than new items: a quiet board legitimately has nothing new, but a board whose list pages
stop producing entries has changed its layout or is blocking us.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.database import utcnow
from crawlers.config import ConfigError, SiteConfig, discover, load_site
from crawlers.models import ABANDONED, FAILED, OK, PARTIAL, RUNNING, SKIPPED, CrawlError, CrawlRun, CrawlSite
from crawlers.runs import LOCK_TTL, sync_site

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAYS = 14
ERROR_RATE_WINDOW = dt.timedelta(days=7)
HIGH_ERROR_RATE = 0.2


@dataclass
class RunInfo:
    id: int
    status: str
    trigger: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    pages: int
    entries_found: int
    items_new: int
    items_updated: int
    errors: int
    message: str | None


@dataclass
class ErrorInfo:
    at: dt.datetime
    run_id: int
    kind: str
    url: str
    field: str | None
    status: int | None
    message: str


@dataclass
class SourceHealth:
    name: str
    title: str
    kind: str
    enabled: bool
    schedule: str | None
    config_path: str
    config_problem: str | None = None
    state: str = "unknown"  # ok | warning | error | never | disabled
    last_run: RunInfo | None = None
    last_success_at: dt.datetime | None = None
    running: bool = False
    items_per_day: list[tuple[str, int]] = field(default_factory=list)  # (YYYY-MM-DD, new items), oldest first
    items_total_14d: int = 0
    pages_7d: int = 0
    errors_7d: int = 0
    error_rate: float | None = None
    last_errors: list[ErrorInfo] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        data = asdict(self)
        data["items_per_day"] = [{"day": d, "items": n} for d, n in self.items_per_day]
        return data


def _run_info(run: CrawlRun) -> RunInfo:
    return RunInfo(run.id, run.status, run.trigger, run.started_at, run.finished_at, run.pages, run.entries_found,
                   run.items_new, run.items_updated, run.errors, run.message)


def _configs() -> tuple[dict[str, SiteConfig], dict[str, tuple[str, str]]]:
    """Valid configurations by name, and broken files by name (path, reason)."""
    good: dict[str, SiteConfig] = {}
    bad: dict[str, tuple[str, str]] = {}
    for path in discover():
        try:
            site = load_site(path)
            good.setdefault(site.name, site)
        except ConfigError as exc:
            bad[Path(path).stem] = (str(path), str(exc))
    return good, bad


def _expected_interval(schedule: str | None, now: dt.datetime) -> dt.timedelta | None:
    """Time between the next two firings of a cron schedule."""
    if not schedule:
        return None
    trigger = CronTrigger.from_crontab(schedule, timezone=SHANGHAI)
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + dt.timedelta(seconds=1)) if first else None
    return (second - first) if first and second else None


def source_health(session: Session, now: dt.datetime | None = None, sync: bool = True) -> list[SourceHealth]:
    """Health of every configured or previously crawled source, worst first."""
    now = now or utcnow()
    configs, broken = _configs()
    if sync:
        for site in configs.values():
            sync_site(session, site)
    registry = {row.name: row for row in session.scalars(select(CrawlSite))}
    names = sorted(set(configs) | set(broken) | set(registry))
    since = now - dt.timedelta(days=DAYS)
    runs_by_site: dict[str, list[CrawlRun]] = {n: [] for n in names}
    for run in session.scalars(select(CrawlRun).where(CrawlRun.started_at >= since).order_by(CrawlRun.started_at.desc())):
        runs_by_site.setdefault(run.site, []).append(run)
    out = []
    for name in names:
        site, row = configs.get(name), registry.get(name)
        health = SourceHealth(
            name=name, title=(site.display_title if site else (row.title if row else name)),
            kind=site.kind if site else (row.kind if row else "?"),
            enabled=site.enabled if site else False, schedule=site.schedule if site else (row.schedule if row else None),
            config_path=site.path if site else (broken[name][0] if name in broken else (row.config_path if row else "")),
        )
        if name in broken:
            health.config_problem = broken[name][1]
            health.warnings.append("配置文件无效，定时抓取已停止：" + broken[name][1].split("\n", 1)[-1].strip())
        elif site is None:
            health.warnings.append("配置文件已删除，只保留历史记录")
        _fill(session, health, runs_by_site.get(name, []), now)
        out.append(health)
    order = {"error": 0, "warning": 1, "never": 2, "ok": 3, "disabled": 4}
    out.sort(key=lambda h: (order.get(h.state, 5), h.name))
    return out


def _fill(session: Session, health: SourceHealth, runs: list[CrawlRun], now: dt.datetime) -> None:
    finished = [r for r in runs if r.status not in (RUNNING, SKIPPED)]
    latest = session.scalar(select(CrawlRun).where(CrawlRun.site == health.name, CrawlRun.status != SKIPPED)
                            .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc()).limit(1))
    if latest is not None:
        health.last_run = _run_info(latest)
        health.running = latest.status == RUNNING
    success = session.scalar(select(CrawlRun.finished_at).where(CrawlRun.site == health.name,
                                                               CrawlRun.status.in_((OK, PARTIAL)))
                             .order_by(CrawlRun.finished_at.desc()).limit(1))
    health.last_success_at = success
    # items per day (Asia/Shanghai), from the runs' new items
    days = [(now.astimezone(SHANGHAI).date() - dt.timedelta(days=i)).isoformat() for i in range(DAYS - 1, -1, -1)]
    per_day = dict.fromkeys(days, 0)
    for run in finished:
        day = run.started_at.astimezone(SHANGHAI).date().isoformat()
        if day in per_day:
            per_day[day] += run.items_new
    health.items_per_day = list(per_day.items())
    health.items_total_14d = sum(per_day.values())
    window = [r for r in finished if r.started_at >= now - ERROR_RATE_WINDOW]
    health.pages_7d = sum(r.pages for r in window)
    health.errors_7d = sum(r.errors for r in window)
    attempts = health.pages_7d + health.errors_7d
    health.error_rate = round(health.errors_7d / attempts, 4) if attempts else None
    health.last_errors = [
        ErrorInfo(e.at, e.run_id, e.kind, e.url, e.field, e.status, e.message)
        for e in session.scalars(select(CrawlError).where(CrawlError.site == health.name)
                                 .order_by(CrawlError.id.desc()).limit(10))
    ]
    _warnings(health, finished, now)


def _warnings(health: SourceHealth, finished: list[CrawlRun], now: dt.datetime) -> None:
    w = health.warnings
    error = bool(health.config_problem)
    if finished:
        last = finished[0]
        earlier = [r for r in finished[1:] if r.status in (OK, PARTIAL)]
        if last.entries_found == 0 and last.status != ABANDONED:
            had = any(r.entries_found > 0 for r in earlier)
            w.append(("最近一次抓取没有解析出任何条目，而此前正常：" if had else "最近一次抓取没有解析出任何条目：")
                     + "页面可能改版、访问被拦截或登录/Cookie 已失效，请检查列表选择器并在浏览器中打开起始网址核对")
            error = True
        if last.status == FAILED:
            w.append(f"最近一次抓取失败（运行 #{last.id}）" + (f"：{last.message}" if last.message else ""))
            error = True
        if last.status == ABANDONED:
            w.append(f"运行 #{last.id} 的进程中途退出，未正常结束")
        blocked = [e for e in health.last_errors if e.run_id == last.id and e.status in (401, 403, 407, 429)]
        if blocked:
            w.append(f"最近一次抓取收到 HTTP {blocked[0].status}：可能被封禁、限流或需要重新登录，请降低频率或更新请求头/代理")
            error = True
        if len(finished) >= 3 and all(r.entries_found == 0 for r in finished[:3]) and earlier:
            w.append("连续 3 次抓取都没有条目")
    if health.error_rate is not None and health.error_rate >= HIGH_ERROR_RATE and health.pages_7d + health.errors_7d >= 5:
        w.append(f"近 7 天错误率 {health.error_rate:.0%}，高于 {HIGH_ERROR_RATE:.0%}")
    interval = _expected_interval(health.schedule, now) if health.enabled else None
    if interval is not None:
        grace = max(2 * interval, dt.timedelta(hours=1)) + LOCK_TTL
        reference = health.last_success_at
        if reference is None and finished:
            w.append("还没有成功的抓取")
        elif reference is not None and now - reference > grace:
            hours = (now - reference).total_seconds() / 3600
            w.append(f"已有 {hours:.0f} 小时没有成功抓取（计划 {health.schedule}）")
    if not health.enabled and not health.config_problem and health.last_run is None:
        health.state = "disabled"
    elif error:
        health.state = "error"
    elif w:
        health.state = "warning"
    elif health.last_run is None:
        health.state = "never"
    else:
        health.state = "ok"
