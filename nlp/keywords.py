"""Keywords by TF-IDF (IDF table computed from the corpus) or TextRank over content words.

The IDF table (``idf.tsv``: ``word<TAB>idf``) is written by ``minsheng train`` next to the model
from the corpus it trains on; a word missing from it gets the table's median IDF (new words are
neither ignored nor allowed to dominate). Words only, never text: the table holds no message.
"""
from __future__ import annotations

import math
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from nlp.segment import content_words

IDF_FILE = "idf.tsv"
#: Parts of speech a keyword may have: nouns (n, nr, ns, nt, nz, ng), verb-nouns, idioms, latin words.
KEYWORD_POS = ("n", "vn", "l", "i", "eng", "j")

_lock = threading.Lock()
_tables: dict[str, tuple[dict[str, float], float]] = {}


def build_idf(token_lists: Iterable[Sequence[str]], min_df: int = 2) -> dict[str, float]:
    """Smoothed IDF, ``log((N + 1) / (df + 1)) + 1``, for words in at least ``min_df`` documents."""
    df: Counter[str] = Counter()
    n = 0
    for tokens in token_lists:
        n += 1
        df.update(set(content_words(list(tokens))))
    return {w: math.log((n + 1) / (c + 1)) + 1 for w, c in df.items() if c >= min_df}


def write_idf(table: dict[str, float], path: Path) -> None:
    lines = (f"{w}\t{v:.3f}" for w, v in sorted(table.items(), key=lambda kv: (-kv[1], kv[0])))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def idf_table(path: Path | None = None) -> tuple[dict[str, float], float]:
    """(word -> idf, default idf for unseen words), loaded once per path."""
    if path is None:
        from nlp.classifier import BUNDLED_DIR, model_dir

        path = model_dir() / IDF_FILE
        if not path.is_file():
            path = BUNDLED_DIR / IDF_FILE
    key = str(path)
    found = _tables.get(key)
    if found is None:
        with _lock:
            found = _tables.get(key)
            if found is None:
                table: dict[str, float] = {}
                if Path(path).is_file():
                    for line in Path(path).read_text(encoding="utf-8").splitlines():
                        word, _, value = line.partition("\t")
                        if value:
                            table[word] = float(value)
                values = sorted(table.values())
                found = _tables[key] = (table, values[len(values) // 2] if values else 1.0)
    return found


def _candidates(tagged: Sequence[tuple[str, str]]) -> list[str]:
    keep = []
    for word, pos in tagged:
        if pos.startswith(KEYWORD_POS) or pos in KEYWORD_POS:
            keep.append(word)
    return content_words(keep)


def tfidf(tagged: Sequence[tuple[str, str]], k: int = 8) -> list[str]:
    """The ``k`` content words with the highest tf x idf, nouns first by part of speech."""
    words = _candidates(tagged)
    if not words:
        return []
    table, default = idf_table()
    tf = Counter(words)
    scored = sorted(tf, key=lambda w: (-(tf[w] * table.get(w, default)), words.index(w)))
    return scored[:k]


def textrank(tagged: Sequence[tuple[str, str]], k: int = 8, window: int = 5, iterations: int = 30,
             damping: float = 0.85) -> list[str]:
    """PageRank over a co-occurrence graph of content words (``window`` words apart)."""
    words = _candidates(tagged)
    if not words:
        return []
    graph: dict[str, Counter[str]] = defaultdict(Counter)
    for i, w in enumerate(words):
        for other in words[i + 1 : i + window]:
            if other != w:
                graph[w][other] += 1
                graph[other][w] += 1
    if not graph:
        return list(dict.fromkeys(words))[:k]
    rank = {w: 1.0 for w in graph}
    out_weight = {w: sum(edges.values()) for w, edges in graph.items()}
    for _ in range(iterations):
        rank = {
            w: (1 - damping) + damping * sum(rank[o] * c / out_weight[o] for o, c in graph[w].items())
            for w in graph
        }
    return sorted(rank, key=lambda w: (-rank[w], words.index(w)))[:k]


def keywords(tagged: Sequence[tuple[str, str]], k: int = 8, method: str = "tfidf") -> list[str]:
    return textrank(tagged, k) if method == "textrank" else tfidf(tagged, k)
