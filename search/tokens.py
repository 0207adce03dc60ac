"""The one tokenizer of the search package: ``nlp.segment.tokenize`` (jieba + the domain dictionary).

Index and query text pass through the same function, so segmentation is identical in the
embedded and the Elasticsearch backend (both only split the stored strings on whitespace).
Tokens are NFKC-folded and lower-cased here (the analyzers also lower-case, harmlessly).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import rjieba

from nlp.segment import tokenize as segment

_WORD = re.compile(r"\w", re.UNICODE)
#: Longer pieces (base64 blobs, URLs without spaces) are not words anyone searches for.
MAX_TOKEN_CHARS = 64
_CJK = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+$")


def normalise_token(token: str) -> str:
    return unicodedata.normalize("NFKC", token).strip().lower()


def clean(tokens: Iterable[str]) -> list[str]:
    """Normalised tokens without whitespace and punctuation-only pieces."""
    out = []
    for tok in tokens:
        for piece in normalise_token(tok).split():
            if len(piece) <= MAX_TOKEN_CHARS and _WORD.search(piece):
                out.append(piece)
    return out


def tokenize(text: str | None) -> list[str]:
    """Segment ``text`` and clean the tokens (the same function for documents and queries)."""
    if not text:
        return []
    return clean(segment(unicodedata.normalize("NFKC", text)))


def split_stored(tokens: str | None) -> list[str]:
    """Tokens stored space-joined by the NLP stage, cleaned the same way."""
    return clean(tokens.split()) if tokens else []


def _has_word(word: str) -> bool:
    """In jieba's dictionary (the default one: sub-words are ordinary words)."""
    return rjieba.has_word(word)


@lru_cache(maxsize=200_000)
def _token_subwords(tok: str) -> tuple[str, ...]:
    n = len(tok)
    if n < 3 or not _CJK.match(tok):
        return ()
    out = []
    for size in (2, 3):
        if size >= n:
            break
        for i in range(n - size + 1):
            gram = tok[i:i + size]
            if _has_word(gram):
                out.append(gram)
    return tuple(out)


def subwords(tokens: Iterable[str]) -> list[str]:
    """Dictionary words inside longer Chinese tokens (as jieba's ``cut_for_search`` adds them).

    ``物业管理`` also yields ``物业`` and ``管理``, so a search for 物业 finds a text that jieba
    segmented as 物业管理. They are appended after the tokens (positions of the real tokens stay
    contiguous, so phrase queries are unaffected).
    """
    out: list[str] = []
    for tok in tokens:
        if len(tok) >= 3:
            out.extend(_token_subwords(tok))
    return out


def index_field(tokens: list[str]) -> str:
    """The string indexed in a token field: the tokens, then their sub-words."""
    subs = subwords(tokens)
    return " ".join(tokens) + (" " + " ".join(subs) if subs else "")
