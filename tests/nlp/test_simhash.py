"""Simhash fingerprints and the four-band multi-index lookup (Hamming distance <= 3)."""
from __future__ import annotations

import random

import pytest

from nlp import segment, simhash

BASE = ("A2区景蓉华苑小区物业公司要退出小区，业委会在未召开业主大会的情况下制定高昂收费方案，"
        "要求业主投票，投票不用投票箱，由物业公司人员组织，对投反对票的业主做工作改为同意票，请有关部门调查。")


def test_signed_unsigned_hex_and_bands_round_trip():
    for value in (0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 0x0123456789ABCDEF):
        signed = simhash.to_signed(value)
        assert -(1 << 63) <= signed < (1 << 63)
        assert simhash.to_unsigned(signed) == value
        b = simhash.bands(value)
        assert all(0 <= x < 1 << 16 for x in b)
        assert sum(x << (16 * i) for i, x in enumerate(b)) == value
        assert simhash.bands(signed) == b and len(simhash.to_hex(value)) == 16


def test_small_edit_is_a_near_duplicate_and_another_text_is_not():
    a = simhash.fingerprint(segment.tokenize(BASE))
    b = simhash.fingerprint(segment.tokenize(BASE.replace("请有关部门调查", "请相关部门尽快调查")))
    c = simhash.fingerprint(segment.tokenize("公交车班次太少，早高峰等车一个小时，希望增加班次并延长末班车时间。"))
    assert simhash.distance(a, b) <= 3
    assert simhash.distance(a, c) > 10


def test_multi_index_finds_exactly_the_hashes_within_three_bits():
    rng = random.Random(5)
    index = simhash.MultiIndex()
    base = rng.getrandbits(64)
    index.add("far", base ^ 0b1111)  # distance 4
    expected = {}
    for n in range(20):
        value = base
        for bit in rng.sample(range(64), n % 4):
            value ^= 1 << bit
        index.add(f"k{n}", value)
        expected[f"k{n}"] = simhash.distance(base, value)
    for _ in range(500):
        index.add(f"noise{_}", rng.getrandbits(64))
    found = dict(index.near(base))
    assert {k: v for k, v in found.items() if k.startswith("k")} == expected
    assert "far" not in found
    brute = {k for k, v in index.hashes.items() if simhash.distance(base, v) <= 3}
    assert set(found) == brute


def test_pairs_and_distance_limit():
    index = simhash.MultiIndex()
    index.add(1, 0)
    index.add(2, 0b111)
    index.add(3, 0xFFFF_0000_0000_0000)
    assert list(index.pairs()) == [(1, 2, 3)]
    with pytest.raises(ValueError):
        index.near(0, 4)


def test_lookup_against_document_bands(engine):
    from core.database import session_scope
    from core.models import Document

    values = {"a": 0x00FF_00FF_00FF_00FF, "b": 0x00FF_00FF_00FF_00FF ^ 0b101, "c": 0x7777_0000_FFFF_1234 ^ (1 << 63)}
    ids = {}
    with session_scope(engine) as session:
        for key, value in values.items():
            b = simhash.bands(value)
            doc = Document(source="test", title=key, body=key, content_hash=key, simhash=simhash.to_signed(value),
                           sim_band0=b[0], sim_band1=b[1], sim_band2=b[2], sim_band3=b[3])
            session.add(doc)
            session.flush()
            ids[key] = doc.id
    with session_scope(engine, readonly=True) as session:
        assert simhash.near_documents(session, values["a"], exclude_id=ids["a"]) == [(ids["b"], 2)]
        assert simhash.near_documents(session, values["c"]) == [(ids["c"], 0)]
