"""Chinese word segmentation: jieba's algorithm and dictionary through the jieba-rs binding (rjieba).

``bench/nlp.py`` measured the binding at 12-15x the speed of pure-Python jieba with 99.8 % token
agreement (same dictionary, same HMM), and it honours the same user-dictionary entries, so it
is the one path used here. The user dictionary (``resources/userdict.txt``) adds department
names, policy terms and place suffixes; it and the stop-word list load once per process (call
:func:`warm` before forking workers). The tokens returned by :func:`tokenize` are the ones the
search index stores and queries with, and the ones the classifier reads.
"""
from __future__ import annotations

import re
import threading
from functools import lru_cache
from pathlib import Path

import rjieba

from nlp.text import clean

RESOURCES = Path(__file__).parent / "resources"
USER_DICT = RESOURCES / "userdict.txt"
STOP_WORDS = RESOURCES / "stopwords.txt"

#: Masked place codes of the corpus (A市, A2区, E12县) are split off before segmentation, or
#: jieba glues the suffix to the next name (A2 | 区丽发 | 新城).
_MASKED_PLACE = re.compile(r"[A-Z]\d{0,3}(?:市|区|县|州|镇|乡)")

_lock = threading.Lock()
_jieba: rjieba.Jieba | None = None


def read_user_dict(path: Path = USER_DICT) -> list[tuple[str, int, str]]:
    """``word [freq [tag]]`` lines; ``#`` starts a comment."""
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        word = parts[0]
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 2000
        tag = parts[2] if len(parts) > 2 else ("n" if len(parts) < 2 or parts[1].isdigit() else parts[1])
        entries.append((word, freq, tag))
    return entries


def _segmenter() -> rjieba.Jieba:
    global _jieba
    if _jieba is None:
        with _lock:
            if _jieba is None:
                seg = rjieba.Jieba()
                for word, freq, tag in read_user_dict():
                    seg.add_word(word, freq, tag)
                _jieba = seg
    return _jieba


def warm() -> None:
    """Load dictionaries now (before forking worker processes, so children share them)."""
    _segmenter()
    stop_words()


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    words = (w.strip() for w in STOP_WORDS.read_text(encoding="utf-8").splitlines())
    return frozenset(w for w in words if w and not w.startswith("#"))


_WORDY = re.compile(r"[^\W_]")


def is_word(token: str) -> bool:
    """False for whitespace and pure punctuation/symbol tokens (emoji included)."""
    return _WORDY.search(token) is not None


def _chunks(text: str):
    pos = 0
    for m in _MASKED_PLACE.finditer(text):
        if m.start() > pos:
            yield False, text[pos : m.start()]
        yield True, m.group()
        pos = m.end()
    if pos < len(text):
        yield False, text[pos:]


def tag(text: str, cleaned: bool = False) -> list[tuple[str, str]]:
    """(word, part-of-speech) pairs, punctuation included, whitespace dropped; masked codes tagged ``ns``."""
    text = text if cleaned else clean(text)
    seg = _segmenter()
    out: list[tuple[str, str]] = []
    for masked, chunk in _chunks(text):
        if masked:
            out.append((chunk, "ns"))
            continue
        out.extend((w.lower(), p) for w, p in seg.tag(chunk) if not w.isspace())
    return out


def tokenize(text: str, cleaned: bool = False) -> list[str]:
    """Words of ``text`` in order: cleaned, segmented, lower-cased; whitespace and punctuation dropped."""
    text = text if cleaned else clean(text)
    seg = _segmenter()
    out: list[str] = []
    for masked, chunk in _chunks(text):
        if masked:
            out.append(chunk)
            continue
        out.extend(w.lower() for w in seg.cut(chunk) if is_word(w))
    return out


def content_words(tokens: list[str]) -> list[str]:
    """Tokens that carry meaning: no stop words, no bare numbers, no single non-Chinese characters."""
    stops = stop_words()
    return [
        t for t in tokens
        if t not in stops and not t.isdigit() and (len(t) > 1 or "\u4e00" <= t <= "\u9fff")
    ]


def join(tokens: list[str]) -> str:
    """The space-joined form stored in ``Document.tokens`` and sent to the search backends."""
    return " ".join(tokens)
