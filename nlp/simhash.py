"""64-bit simhash over content words and a multi-index lookup of near-duplicates (Hamming <= 3).

The hash is cut into four 16-bit bands. Two hashes within Hamming distance 3 differ in at most
three bands, so they agree exactly on at least one (pigeonhole): a lookup asks each band's
index for exact matches and checks the full distance only on those candidates, never scanning
every document. The bands are the indexed ``Document.sim_band0..3`` columns; ``MultiIndex``
does the same in memory (batch jobs, benchmarks).
"""
from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

BITS = 64
BANDS = 4
BAND_BITS = BITS // BANDS
MAX_DISTANCE = 3
_MASK64 = (1 << 64) - 1


def _digest(feature: str) -> bytes:
    return hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()


def simhash(tokens: Sequence[str], weights: dict[str, float] | None = None) -> int:
    """Unsigned 64-bit simhash of a token list (word counts, times ``weights`` when given).

    Each word's 8-byte BLAKE2b digest is one row of bits; the weighted vote per bit column is a
    single matrix product, so a message costs microseconds, not a Python loop over 64 bits.
    """
    counts = Counter(tokens)
    if not counts:
        return 0
    features = list(counts)
    w = np.array([counts[f] * (weights.get(f, 1.0) if weights else 1.0) for f in features], dtype=np.float64)
    bits = np.unpackbits(np.frombuffer(b"".join(map(_digest, features)), dtype=np.uint8)).reshape(len(features), BITS)
    votes = w @ (bits.astype(np.float64) * 2 - 1)
    return int.from_bytes(np.packbits(votes > 0).tobytes(), "big")


def fingerprint(tokens: Sequence[str]) -> int:
    """The project's fingerprint: content words weighted by corpus IDF (rare words matter more)."""
    from nlp.keywords import idf_table
    from nlp.segment import content_words

    table, default = idf_table()
    words = content_words(list(tokens))
    return simhash(words, {w: table.get(w, default) for w in set(words)})


def distance(a: int, b: int) -> int:
    return ((a ^ b) & _MASK64).bit_count()


def to_signed(value: int) -> int:
    """Unsigned 64-bit -> two's-complement signed (fits a BIGINT column)."""
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned(value: int) -> int:
    return value & _MASK64


def to_hex(value: int) -> str:
    return f"{to_unsigned(value):016x}"


def bands(value: int) -> tuple[int, int, int, int]:
    """The four 16-bit bands, lowest bits first (``sim_band0`` .. ``sim_band3``)."""
    value = to_unsigned(value)
    return tuple((value >> (BAND_BITS * i)) & 0xFFFF for i in range(BANDS))  # type: ignore[return-value]


class MultiIndex:
    """In-memory multi-index table: one dict per band, from band value to the keys holding it."""

    def __init__(self) -> None:
        self.tables: list[dict[int, list]] = [defaultdict(list) for _ in range(BANDS)]
        self.hashes: dict = {}

    def add(self, key, value: int) -> None:
        value = to_unsigned(value)
        self.hashes[key] = value
        for table, band in zip(self.tables, bands(value)):
            table[band].append(key)

    def near(self, value: int, max_distance: int = MAX_DISTANCE) -> list[tuple[object, int]]:
        """``(key, distance)`` of every stored hash within ``max_distance``, nearest first."""
        if max_distance >= BANDS:
            raise ValueError(f"the {BANDS}-band index finds distances below {BANDS} only")
        value = to_unsigned(value)
        seen = set()
        found = []
        for table, band in zip(self.tables, bands(value)):
            for key in table.get(band, ()):
                if key in seen:
                    continue
                seen.add(key)
                d = distance(value, self.hashes[key])
                if d <= max_distance:
                    found.append((key, d))
        return sorted(found, key=lambda kv: (kv[1], str(kv[0])))

    def pairs(self, max_distance: int = MAX_DISTANCE) -> Iterable[tuple[object, object, int]]:
        """Every pair of stored keys within ``max_distance`` (each pair once)."""
        done = set()
        for key, value in self.hashes.items():
            for other, d in self.near(value, max_distance):
                if other == key:
                    continue
                pair = (key, other) if str(key) < str(other) else (other, key)
                if pair not in done:
                    done.add(pair)
                    yield pair[0], pair[1], d


def near_documents(session: Session, value: int, max_distance: int = MAX_DISTANCE, exclude_id: int | None = None,
                   limit: int = 50) -> list[tuple[int, int]]:
    """``(document id, distance)`` of stored documents within ``max_distance`` of ``value``.

    One indexed equality per band (``sim_band0 = ? OR sim_band1 = ? …``), then the exact
    distance on the candidates only.
    """
    from core.models import Document

    b = bands(value)
    cols = (Document.sim_band0, Document.sim_band1, Document.sim_band2, Document.sim_band3)
    query = select(Document.id, Document.simhash).where(or_(*(c == v for c, v in zip(cols, b))))
    if exclude_id is not None:
        query = query.where(Document.id != exclude_id)
    found = []
    for doc_id, stored in session.execute(query):
        if stored is None:
            continue
        d = distance(value, stored)
        if d <= max_distance:
            found.append((doc_id, d))
    found.sort(key=lambda kv: (kv[1], kv[0]))
    return found[:limit]
