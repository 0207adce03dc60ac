"""Pure functions of the console: Poisson tail, heat formula, similarity, place normalisation."""
from __future__ import annotations

import datetime as dt
import math

import pytest

from search.trends import config, heat
from search.trends.cluster import cosine, hamming, shares_place
from search.trends.features import build_terms, is_generic_place, normalise_place
from search.trends.surge import poisson_tail

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


def test_poisson_tail_matches_the_direct_sum():
    for lam in (0.1, 0.5, 2.0, 7.5):
        for count in (0, 1, 3, 5, 12):
            direct = 1 - sum(math.exp(-lam) * lam ** k / math.factorial(k) for k in range(count))
            assert poisson_tail(count, lam) == pytest.approx(max(direct, 0.0), rel=1e-6, abs=1e-12)
    assert poisson_tail(200, 1.0) < 1e-100  # no overflow for large counts
    assert poisson_tail(3, 0.0) == 0.0


def test_heat_factors_sum_and_decay():
    cfg = dict(config.HEAT_DEFAULTS)
    inputs = heat.HeatInputs(documents=10, reporters=8, likes=100, recent=6, previous=1, negative=5, risk=1,
                             last_seen=NOW - dt.timedelta(days=30))
    result = heat.compute(inputs, cfg, NOW)
    assert {f["factor"] for f in result.factors} == set(heat.FACTOR_LABELS)
    assert result.points == pytest.approx(sum(f["points"] for f in result.factors), abs=0.05)
    assert result.decay == pytest.approx(0.5)  # one half-life old
    assert result.heat == pytest.approx(result.points * 0.5, abs=0.05)
    fresh = heat.compute(heat.HeatInputs(10, 8, 100, 6, 1, 5, 1, NOW), cfg, NOW)
    assert fresh.heat > result.heat
    no_decay = heat.compute(inputs, {**cfg, "half_life_days": 0}, NOW)
    assert no_decay.decay == 1.0


def test_heat_grows_with_each_factor():
    cfg = dict(config.HEAT_DEFAULTS)
    base = dict(documents=5, reporters=3, likes=0, recent=1, previous=1, negative=1, risk=0, last_seen=NOW)
    h0 = heat.compute(heat.HeatInputs(**base), cfg, NOW).heat
    for key, value in (("documents", 50), ("reporters", 30), ("likes", 500), ("recent", 20), ("negative", 5), ("risk", 2)):
        assert heat.compute(heat.HeatInputs(**{**base, key: value}), cfg, NOW).heat > h0, key


def test_cosine_and_hamming():
    assert cosine({"a": 1}, {"a": 2}) == pytest.approx(1.0)
    assert cosine({"a": 1}, {"b": 1}) == 0.0
    assert cosine({}, {"a": 1}) == 0.0
    assert hamming(0, 0b1011) == 3
    assert hamming(-1, 0x7FFFFFFFFFFFFFFF) == 1  # signed storage of the 64-bit fingerprint


def test_places_normalised_and_generic_ones_recognised():
    assert normalise_place("A2区丽发新城小区") == "丽发新城"
    assert normalise_place("魅力之城小区") == "魅力之城"
    assert is_generic_place("A市") and is_generic_place("A2区") and is_generic_place("西地省")
    assert not is_generic_place("丽发新城") and not is_generic_place("郝家坪小学")
    # what the entity tagger returns that is no place of its own: it must not tie estates together
    for word in ("垃圾站", "搅拌站", "有限公司", "A市政府", "A4区公安分局", "环保局", "房间里", "中华人民共和国"):
        assert is_generic_place(word), word
    for name in ("伊景园滨河苑", "劳动东路", "三一大道", "北三环", "广铁集团"):
        assert not is_generic_place(name), name


def test_place_names_containing_one_another_match():
    assert shares_place({"伊景园"}, {"伊景园滨河苑"}) and shares_place({"万科魅力之城"}, {"魅力之城"})
    assert not shares_place({"丽发新城"}, {"魅力之城"}) and not shares_place(set(), {"魅力之城"})
    assert not shares_place({"城"}, {"魅力之城"})  # one- and two-character fragments never match by containment


def test_terms_weight_title_words_and_drop_complaint_words():
    terms = build_terms(["丽发新城", "搅拌站", "噪音", "问题", "反映"], ["搅拌站", "扰民", "12345"], {"丽发新城"})
    assert "问题" not in terms and "反映" not in terms and "12345" not in terms
    assert terms["搅拌站"] > terms["扰民"]
    # a specific place's words still count (the tagger may miss the place in another document), at a share
    assert 0 < terms["丽发新城"] < terms["搅拌站"]
    # words of an administrative area do not: the place test handles them
    assert "暮云" not in build_terms(["暮云", "停水"], [], {"暮云街道"})


def test_compound_terms_share_their_parts():
    a = build_terms(["油烟扰民"], [], set())
    b = build_terms(["噪音扰民"], [], set())
    assert "扰民" in a and "扰民" in b and a["扰民"] < a["油烟扰民"]


def test_sub_districts_and_towns_are_administrative_areas():
    for name in ("暮云街道", "泉塘街道", "黄花镇", "青山铺镇", "某某乡", "问政西地省", "经开区"):
        assert is_generic_place(name), name
    for name in ("丽发新城", "伊景园滨河苑", "蓝田村", "咸嘉新村"):
        assert not is_generic_place(name), name


def test_gazetteer_recognises_a_place_found_once(sqlite_url):
    """A place the tagger found in one document is recognised in a later one where it missed it."""
    import datetime as dt
    from core.database import engine_for, session_scope
    from core.models import Document
    from search.trends.features import features_of, known_names
    from search.trends.models import HotTopic, TrendTopicKey
    with session_scope(engine_for(sqlite_url)) as session:
        topic = HotTopic(title="五矿万境质量问题", terms={}, place_counts={}, label_counts={}, places=[], keywords=[],
                         representative_ids=[], size=1)
        session.add(topic)
        session.flush()
        session.add(TrendTopicKey(key="p:五矿万境", topic_id=topic.id, last_seen=NOW))
        session.add(TrendTopicKey(key="o:58车贷", topic_id=topic.id, last_seen=NOW))
        doc = Document(source="t", external_id="g1", title="五矿万境房子墙壁开裂", body="58车贷案件", content_hash="g1",
                       title_tokens="五矿 万境 房子 墙壁 开裂", tokens="58 车贷 案件", keywords=["开裂"], places=[],
                       organisations=[], created_at=NOW)
        session.add(doc)
        session.flush()
        assert known_names(session, ["五矿", "万境", "房子"]) == (["五矿万境"], [])
        f = features_of(doc)
        assert "五矿万境" in f.specific_places and "58车贷" in f.organisations


def test_config_refuses_bad_values(sqlite_url):
    from core.database import engine_for, session_scope
    with session_scope(engine_for(sqlite_url)) as session:
        with pytest.raises(config.ConfigError, match="未知的参数"):
            config.save(session, "heat", {"w_magic": 1}, "t")
        with pytest.raises(config.ConfigError, match="必须是数字"):
            config.save(session, "heat", {"w_likes": "很多"}, "t")
        with pytest.raises(config.ConfigError, match="非负"):
            config.save(session, "surge", {"p_1": -1}, "t")
        with pytest.raises(config.ConfigError, match="未知的配置项"):
            config.save(session, "nope", {}, "t")
        saved = config.save(session, "heat", {"w_likes": 0}, "t")
        assert saved["w_likes"] == 0.0 and saved["w_documents"] == config.HEAT_DEFAULTS["w_documents"]


def test_surge_keys_skip_fragments_but_keep_districts():
    from search.trends.features import DocFeatures
    from search.trends.surge import keys_of
    f = DocFeatures(document_id=1, at=NOW, source="x", title="", label="环境保护",
                    places=["A市", "A5区", "家里", "星河湾", "空气里", "垃圾站"])
    assert keys_of(f, 7) == [("label", "环境保护"), ("place", "A5区"), ("place", "星河湾"), ("topic", "7")]
