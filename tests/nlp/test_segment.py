"""Segmentation with the domain dictionary; clean-up of HTML, full-width and traditional text."""
from __future__ import annotations

from nlp import segment
from nlp.text import MAX_CHARS, clean, to_simplified


def test_user_dictionary_keeps_domain_terms_whole():
    tokens = segment.tokenize("我要咨询公积金提取和拆迁安置政策，网格员让我打12345热线，还有学区房的问题")
    for term in ("公积金", "拆迁安置", "网格员", "12345热线", "学区房"):
        assert term in tokens, (term, tokens)


def test_masked_place_codes_are_split_off():
    tokens = segment.tokenize("A2区丽发新城小区的业主")
    assert tokens[0] == "A2区" and "区丽发" not in tokens


def test_punctuation_whitespace_and_emoji_are_dropped_latin_lowercased():
    tokens = segment.tokenize("  小区停水！！😀😀 WiFi  。。")
    assert tokens == ["小区", "停水", "wifi"]


def test_tag_and_tokenize_agree():
    text = "A市A2区桂花坪街道的景蓉华苑物业管理混乱，业委会不作为。"
    words = [w for w, _ in segment.tag(text) if segment.is_word(w)]
    assert words == segment.tokenize(text)


def test_traditional_is_converted_and_html_removed():
    assert to_simplified("這個社區環境衛生很差") == "这个社区环境卫生很差"
    assert clean("<p>物业<b>乱收费</b></p><script>alert(1)</script>&amp;停车") == "物业 乱收费 &停车"
    assert clean("ＡＢＣ１２３") == "ABC123"


def test_long_and_empty_input():
    assert segment.tokenize("") == [] and clean(None) == ""
    long = "噪音扰民" * 30_000
    assert len(clean(long)) == MAX_CHARS
    assert segment.tokenize(long)[:2] == ["噪音扰民", "噪音扰民"]


def test_content_words_drop_stop_words_and_numbers():
    assert segment.content_words(["的", "小区", "2019", "a", "物业"]) == ["小区", "物业"]


def test_user_dictionary_format():
    entries = segment.read_user_dict()
    assert ("公积金", 3000, "n") in entries
    assert all(freq > 0 and word for word, freq, _ in entries)
