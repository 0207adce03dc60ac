"""``analyse``: one call gives every NLP field; malformed inputs never crash it."""
from __future__ import annotations

import pytest

from nlp.labels import APPEALS, SENTIMENTS, TOPICS
from nlp.pipeline import analyse, analyse_many

MALFORMED = {
    "empty": ("", ""),
    "none": (None, None),
    "long": ("噪音", "小区楼下烧烤店噪音扰民，" * 8_400),  # 100,800 characters
    "emoji": ("😀😀😀", "😡😡👍🏻🙏" * 50),
    "traditional": ("社區停車費", "這個社區的物業公司亂收停車費，業主多次反映沒有結果。"),
    "html": ("<b>投诉</b>", "<div><p>A市A2区丽发新城<br/>物业乱收费</p><script>alert('x')</script></div>&nbsp;&lt;"),
    "control": ("\x00\x01", "物业\u200b乱收费\ufeff\x07"),
    "latin": ("hello", "just english text with no chinese at all 12345"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_inputs_are_handled(name, use_tiny_model):
    title, text = MALFORMED[name]
    a = analyse(title, text)
    assert isinstance(a.tokens, list) and isinstance(a.risk, list)
    assert len(a.simhash_hex) == 16 and 0 <= a.simhash < 1 << 64
    if a.topic is not None:
        assert a.topic in TOPICS and a.sentiment in SENTIMENTS and a.appeal in APPEALS
        assert set(a.topic_scores) == set(TOPICS)


def test_empty_goes_to_review_without_labels(use_tiny_model):
    a = analyse("", "  😀 ")
    assert a.topic is None and a.needs_review and a.review_reasons == ["empty"] and a.tokens == []


def test_traditional_text_is_analysed_as_simplified(use_tiny_model):
    a = analyse("", MALFORMED["traditional"][1])
    assert "物业公司" in a.tokens and "repeat" in a.risk


def test_html_is_not_indexed(use_tiny_model):
    a = analyse(*MALFORMED["html"])
    assert not {"div", "script", "alert", "br", "nbsp"} & set(a.tokens)
    assert "丽发新城" in a.places


def test_full_analysis_fields(use_tiny_model):
    a = analyse("A2区丽发新城小区物业乱收费", "物业公司乱收停车费，业主多次反映没有结果，准备集体上访。")
    assert a.title_tokens[:2] == ["A2区", "丽发"]
    assert {"repeat", "group_action"} <= set(a.risk) and a.has_risk
    assert a.risk_reasons["repeat"] == "多次反映"
    assert "丽发新城" in a.places and "A2区" in a.places
    assert a.keywords and len(a.bands) == 4
    d = a.as_dict()
    assert d["simhash"] == a.simhash_hex and d["topic"] == a.topic


def test_batch_equals_single(use_tiny_model):
    items = [("小区停水", "小区停水三天"), ("", ""), ("公交太少", "公交车班次太少，等车一小时")]
    batch = analyse_many(items)
    for item, b in zip(items, batch):
        one = analyse(*item)
        assert (one.topic, one.sentiment, one.appeal, one.simhash) == (b.topic, b.sentiment, b.appeal, b.simhash)
        if one.topic_score is not None:
            assert abs(one.topic_score - b.topic_score) < 1e-3


def test_model_is_loaded_once_per_process(use_tiny_model):
    import threading

    from nlp import classifier

    classifier.reset()
    got = []
    threads = [threading.Thread(target=lambda: got.append(classifier.get_classifier())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(g) for g in got}) == 1
