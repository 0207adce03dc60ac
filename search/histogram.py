"""The time histogram of the search page as server-rendered SVG (no script, works under a strict CSP)."""
from __future__ import annotations

import datetime as dt
from html import escape

from markupsafe import Markup

from search.backend import SHANGHAI, bucket_start, fill_buckets
from search.service import SearchParams, parse_date
from search.types import Bucket

LABELS = {"day": "日", "week": "周", "month": "月"}


def auto_interval(params: SearchParams) -> str:
    """Days for up to three months, weeks for up to two years, months beyond (or when open-ended)."""
    start = parse_date(params.date_from, "from")
    end = parse_date(params.date_to, "to", end=True)
    if start is None or end is None:
        return "month" if end is None or start is None else "week"
    span = (end - start).days
    return "day" if span <= 92 else "week" if span <= 730 else "month"


def spanning(buckets: list[Bucket], interval: str, params: SearchParams, max_bars: int = 400) -> list[Bucket]:
    """Zero-filled over the requested date range (not only from the first to the last hit)."""
    start = parse_date(params.date_from, "from")
    end = parse_date(params.date_to, "to", end=True)
    counts = {dt.date.fromisoformat(b.key): b.count for b in buckets}
    if start is not None:
        counts.setdefault(bucket_start(start.astimezone(SHANGHAI).date(), interval), 0)
    if end is not None:
        last_day = (end - dt.timedelta(seconds=1)).astimezone(SHANGHAI).date()
        counts.setdefault(bucket_start(last_day, interval), 0)
    filled = fill_buckets(counts, interval)
    return filled[-max_bars:]


def svg_bars(buckets: list[Bucket], interval: str, width: int = 720, height: int = 140) -> Markup:
    if not buckets:
        return Markup("")
    peak = max(b.count for b in buckets) or 1
    n = len(buckets)
    bar = width / n
    parts = [
        f'<svg class="histogram" viewBox="0 0 {width} {height + 20}" role="img" '
        f'aria-label="按{LABELS.get(interval, "")}统计的文档数量" preserveAspectRatio="none">'
    ]
    for i, b in enumerate(buckets):
        h = 0 if not b.count else max(1.0, b.count / peak * height)
        x = i * bar
        parts.append(
            f'<rect x="{x:.2f}" y="{height - h:.2f}" width="{max(bar - 1, 0.5):.2f}" height="{h:.2f}">'
            f"<title>{escape(b.key)}：{b.count} 条</title></rect>"
        )
    first, last = buckets[0].key, buckets[-1].key
    parts.append(f'<text x="0" y="{height + 15}">{escape(first)}</text>')
    parts.append(f'<text x="{width}" y="{height + 15}" text-anchor="end">{escape(last)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
