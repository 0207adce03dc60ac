"""Taxonomy cues: which entries count, how they are matched and stored, and what they teach the linear companion."""
from __future__ import annotations

import numpy as np
import pytest

from nlp.labels import HEADS
from nlp.linear import VOCAB_FILE, WEIGHTS_FILE, LinearCompanion
from nlp.taxonomy import (CUE_PREFIX, CUES_FILE, CueIndex, WORD_CUES_FILE, WORD_PREFIX, cue_features, cues_from_data,
                          load_cues, rare_cues, read_taxonomy, read_taxonomy_words, save_cues, word_cues_from_data)

TAXONOMY = """level1,level2,level3
交通运输,邮政管理,邮政市场监管
交通运输,邮政管理,其他
教育文体,教师队伍和待遇,工资福利
劳动和社会保障,工资福利,住房公积金
城乡建设,住房保障与房地产,住房公积金
教育文体,文化,非物质文化遗产
商贸旅游,市场监管,传销
不是主题,随便,什么条目
卫生计生,人口计生,X
"""


def test_only_entries_of_one_topic_become_cues(tmp_path):
    path = tmp_path / "taxonomy.csv"
    path.write_text("\ufeff" + TAXONOMY, encoding="utf-8")  # spreadsheet exports start with a BOM
    cues = read_taxonomy(path)
    assert cues["邮政管理"] == "交通运输" and cues["邮政市场监管"] == "交通运输"
    assert cues["非物质文化遗产"] == "教育文体" and cues["传销"] == "商贸旅游"
    # shared by two topics (工资福利: 教育文体 and 劳动和社会保障; 住房公积金: two topics), the catch-all,
    # one-character entries and rows whose first level is not one of the 15 topics are no cue
    for entry in ("工资福利", "住房公积金", "其他", "X", "随便", "什么条目"):
        assert entry not in cues
    assert cues_from_data(tmp_path) == cues
    assert cues_from_data(tmp_path / "elsewhere") == {}


def test_a_taxonomy_without_its_columns_is_refused_by_name(tmp_path):
    path = tmp_path / "taxonomy.csv"
    path.write_text("topic,sub\n交通运输,邮政管理\n", encoding="utf-8")
    with pytest.raises(ValueError, match="level1, level2, level3"):
        read_taxonomy(path)


def test_every_entry_a_text_names_is_a_feature_even_when_entries_overlap():
    cues = {"非物质文化遗产": "教育文体", "文化": "教育文体", "传销": "商贸旅游"}
    assert sorted(cue_features("请保护非物质文化遗产", cues)) == [CUE_PREFIX + "教育文体"] * 2
    assert cue_features("小区停水", cues) == []
    assert cue_features("", cues) == []


def test_cues_round_trip_through_a_model_directory(tmp_path):
    cues = {"邮政管理": "交通运输", "传销": "商贸旅游"}
    save_cues(cues, tmp_path)
    assert load_cues(tmp_path) == cues
    (tmp_path / CUES_FILE).write_text("邮政管理\t交通运输\n坏行\n某条目\t不是主题\n", encoding="utf-8")
    assert load_cues(tmp_path) == {"邮政管理": "交通运输"}  # unreadable lines are skipped
    assert load_cues(tmp_path / "nowhere") == {}


# Post-office messages are labelled 交通运输; a word never seen in training (邮政局) still names the entry 邮政.
DOCS = [["邮政", "网点", "关闭"], ["邮政", "储蓄", "排队"], ["小区", "物业", "乱收费"], ["小区", "停水"],
        ["物业", "乱收费", "投诉"], ["工厂", "排污", "举报"], ["工厂", "废气"]]
TOPIC = ["交通运输", "交通运输", "城乡建设", "城乡建设", "城乡建设", "环境保护", "环境保护"]
LABELS = {"topic": HEADS["topic"]}
CUES = {"邮政": "交通运输", "排污": "环境保护"}


def _fit(cues=None) -> LinearCompanion:
    return LinearCompanion.fit(DOCS, {"topic": TOPIC}, LABELS, C=10.0, min_df=1, cues=cues)


def test_a_cue_carries_its_topic_to_a_message_of_unseen_words():
    unseen = [["邮政局", "投递", "太慢"]]
    with_cues = _fit(CUES).logits(unseen)["topic"][0]
    words_only = _fit().logits(unseen)["topic"][0]
    transport = HEADS["topic"].index("交通运输")
    assert HEADS["topic"][with_cues.argmax()] == "交通运输"
    assert HEADS["topic"][words_only.argmax()] != "交通运输"  # no known word: the words alone cannot tell
    assert with_cues[transport] - np.delete(with_cues, transport).max() > 0
    assert CUE_PREFIX + "交通运输" in _fit(CUES).index


def test_a_companion_saves_its_cues_and_a_companion_without_cues_removes_them(tmp_path):
    companion = _fit(CUES)
    companion.save(tmp_path)
    assert (tmp_path / CUES_FILE).is_file()
    loaded = LinearCompanion.load(tmp_path)
    assert loaded.cues == CUES and loaded.cue_repeat == companion.cue_repeat
    docs = [["邮政局", "投递"], ["小区", "停水"]]
    np.testing.assert_allclose(loaded.logits(docs)["topic"], companion.logits(docs)["topic"], atol=2e-2)
    _fit().save(tmp_path)  # saved over by a model trained without cues: the old table must not linger
    assert not (tmp_path / CUES_FILE).exists() and (tmp_path / WEIGHTS_FILE).is_file()
    assert LinearCompanion.load(tmp_path).cues == {} and (tmp_path / VOCAB_FILE).is_file()


def test_words_of_entries_that_one_topic_uses_become_word_cues(tmp_path):
    path = tmp_path / "taxonomy.csv"
    path.write_text(TAXONOMY, encoding="utf-8")
    words = read_taxonomy_words(path)
    # 邮政 (邮政管理, 邮政市场监管) and 传销 belong to one topic each; 工资, 福利 and 住房公积金 to two
    assert words["邮政"] == "交通运输" and words["传销"] == "商贸旅游"
    for word in ("工资福利", "住房公积金", "其他", "X", "什么", "随便"):
        assert word not in words
    assert all(len(word) >= 2 for word in words)
    assert word_cues_from_data(tmp_path) == words
    assert word_cues_from_data(tmp_path / "elsewhere") == {}


def test_only_rare_word_cues_are_kept_and_unseen_ones_stay():
    texts = ["小区停水", "小区物业", "邮政网点", "小区电梯"]
    cues = {"小区": "城乡建设", "邮政": "交通运输", "直销": "商贸旅游"}
    # 小区 is in 3 of 4 texts, 邮政 in 1, 直销 in none (it still fires at prediction: the pooled feature's point)
    assert rare_cues(cues, texts, 0.25) == {"邮政": "交通运输", "直销": "商贸旅游"}
    assert rare_cues(cues, texts, 1.0) == cues
    assert rare_cues(cues, texts, 0.0) == {"直销": "商贸旅游"}


def test_word_cues_are_features_of_their_own():
    assert cue_features("邮政网点关闭", {"邮政": "交通运输"}, WORD_PREFIX) == [WORD_PREFIX + "交通运输"]
    assert WORD_PREFIX != CUE_PREFIX


def _fit_words(word_cues, max_df=1.0) -> LinearCompanion:
    return LinearCompanion.fit(DOCS, {"topic": TOPIC}, LABELS, C=10.0, min_df=1, word_cues=word_cues,
                               word_cue_max_df=max_df)


def test_a_word_cue_carries_its_topic_and_is_saved_with_the_companion(tmp_path):
    unseen = [["邮政局", "投递", "太慢"]]
    companion = _fit_words({"邮政": "交通运输", "物业": "城乡建设"})
    assert HEADS["topic"][companion.logits(unseen)["topic"][0].argmax()] == "交通运输"
    assert WORD_PREFIX + "交通运输" in companion.index
    companion.save(tmp_path)
    assert load_cues(tmp_path, WORD_CUES_FILE) == {"邮政": "交通运输", "物业": "城乡建设"}
    loaded = LinearCompanion.load(tmp_path)
    assert loaded.word_cues == companion.word_cues
    np.testing.assert_allclose(loaded.logits(unseen)["topic"], companion.logits(unseen)["topic"], atol=2e-2)
    _fit().save(tmp_path)  # a companion without word cues leaves no stale table behind
    assert not (tmp_path / WORD_CUES_FILE).exists() and LinearCompanion.load(tmp_path).word_cues == {}


def test_word_cues_in_too_many_training_messages_are_dropped_at_fit():
    # 物业 is in 2 of 7 messages, 邮政 in 2 of 7: a 20 % ceiling keeps neither, 30 % keeps both
    assert _fit_words({"邮政": "交通运输", "物业": "城乡建设"}, max_df=0.2).word_cues == {}
    assert _fit_words({"邮政": "交通运输", "物业": "城乡建设"}, max_df=0.3).word_cues == {"邮政": "交通运输",
                                                                                       "物业": "城乡建设"}


def test_the_cue_index_finds_what_a_search_per_cue_finds():
    cues = {"非物质文化遗产": "教育文体", "文化": "教育文体", "文化遗产": "教育文体", "传销": "商贸旅游", "销售": "商贸旅游",
            "邮政": "交通运输"}
    texts = ["请保护非物质文化遗产", "传销售卖", "邮政邮政文化", "", "小区停水", "文", "遗产文化遗"]
    for prefix in (CUE_PREFIX, WORD_PREFIX):
        index = CueIndex(cues, prefix)
        for text in texts:  # overlapping and nested cues, repeats, a cue at the very end, a cut-off cue
            assert sorted(index.features(text)) == sorted(cue_features(text, cues, prefix)), text
    assert CueIndex({}).features("邮政") == []
