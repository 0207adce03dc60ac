"""Highlighted snippets, the same for both backends: the stored (already masked) text, HTML-escaped,
with the query's tokens wrapped in ``<mark>``. Built here rather than by a backend's highlighter,
because the backends index space-joined tokens while people read the original text."""
from __future__ import annotations

import html
import re
from collections.abc import Iterable

from markupsafe import Markup


def _pattern(terms: Iterable[str]) -> re.Pattern | None:
    terms = sorted({t for t in terms if t}, key=len, reverse=True)[:50]
    if not terms:
        return None
    return re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)


def _mark(text: str, pattern: re.Pattern | None) -> str:
    if pattern is None:
        return html.escape(text)
    out, pos = [], 0
    for m in pattern.finditer(text):
        out.append(html.escape(text[pos:m.start()]))
        out.append(f"<mark>{html.escape(m.group())}</mark>")
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def highlight(text: str | None, terms: Iterable[str]) -> Markup:
    """The whole text with every term marked (titles)."""
    return Markup(_mark(text or "", _pattern(terms)))


def snippet(text: str | None, terms: Iterable[str], width: int = 140, before: int = 30) -> Markup:
    """About ``width`` characters around the first match (or the start), terms marked."""
    text = re.sub(r"\s+", " ", text or "").strip()
    pattern = _pattern(terms)
    first = pattern.search(text) if pattern is not None else None
    start = max(0, first.start() - before) if first else 0
    end = min(len(text), start + width)
    piece = text[start:end]
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    return Markup(prefix + _mark(piece, pattern) + suffix)


def plain(markup: str) -> str:
    """A snippet without tags (CSV/Excel)."""
    return html.unescape(re.sub(r"</?mark>", "", str(markup)))
