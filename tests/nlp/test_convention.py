"""The convention expert: fitted on the gold alone, added to the fused topic logits, saved with the model."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import torch

from nlp.classifier import Classifier
from nlp.convention import CONVENTION_DIR, convention_logprobs, fit_convention
from nlp.labels import HEADS
from nlp.linear import WEIGHTS_FILE, LinearCompanion
from nlp.train import saved_config, train_pipeline
from tests.nlp.conftest import tiny_config

DOCS = [["小区", "物业", "乱收费"], ["物业", "乱收费", "投诉"], ["请问", "公积金", "提取"], ["公积金", "提取", "流程"],
        ["公积金", "贷款"], ["物业", "维修"]]
#: the board's convention in this toy gold: 公积金 is 城乡建设, as the taxonomy files it
GOLD = ["城乡建设", "城乡建设", "城乡建设", "城乡建设", "城乡建设", "劳动和社会保障"]


def _gold_and_annotations(examples):
    """The first 30 generated messages as gold (topics of two kinds only), the rest as annotations."""
    gold = [dataclasses.replace(e, source="gold") for e in examples[:30]
            if e.topic in ("城乡建设", "交通运输")]
    return gold + [dataclasses.replace(e, source="annotation") for e in examples[30:60]]


def test_scores_the_topics_it_saw_and_gives_the_others_their_mean():
    expert = fit_convention(DOCS, GOLD, HEADS["topic"], C=10.0)
    logp = convention_logprobs(expert, [["公积金", "提取"], ["从没见过"], []])
    seen = [HEADS["topic"].index(t) for t in ("城乡建设", "劳动和社会保障")]
    unseen = [i for i in range(len(HEADS["topic"])) if i not in seen]
    np.testing.assert_allclose(np.exp(logp[:, seen]).sum(axis=1), 1.0, rtol=1e-5)  # a distribution over its topics
    np.testing.assert_allclose(logp[:, unseen], np.repeat(logp[:, seen].mean(axis=1, keepdims=True), len(unseen), 1),
                               rtol=1e-6)  # neither backs nor vetoes a topic it never saw
    assert logp[0, HEADS["topic"].index("城乡建设")] > logp[0, HEADS["topic"].index("劳动和社会保障")]


def test_gold_of_one_topic_gives_no_expert():
    assert fit_convention(DOCS, ["城乡建设"] * len(DOCS), HEADS["topic"], C=10.0) is None


def test_training_fits_it_on_the_gold_alone_and_adds_it_to_the_topic(tmp_path, tiny_model, tiny_examples):
    examples = _gold_and_annotations(tiny_examples)
    summary, trained = train_pipeline([], examples, tmp_path, tiny_config(epochs=1, convention_weight=0.5),
                                      log=lambda m: None, encoder_dir=tiny_model[0] / "pretrained")
    gold = [e for e in examples if e.source == "gold"]
    assert summary["convention"] == {"messages": len(gold), "topics": ["交通运输", "城乡建设"], "weight": 0.5}
    assert (tmp_path / CONVENTION_DIR / WEIGHTS_FILE).is_file()
    loaded = Classifier.load(tmp_path)
    assert loaded.convention is not None and loaded.convention_weight == 0.5
    assert saved_config(tmp_path, seed=1).convention_weight == 0.5
    pairs = [loaded.prepare(e.title, e.text) for e in tiny_examples[60:70]]
    with_expert = loaded.logits(pairs)
    words = [loaded.companion_words(p) for p in pairs]
    expert = torch.from_numpy(convention_logprobs(loaded.convention, words))
    loaded.meta["convention_weight"] = 0.0
    without = loaded.logits(pairs)
    torch.testing.assert_close(with_expert["topic"], without["topic"] + 0.5 * expert)
    for head in ("sentiment", "appeal", "risk"):  # the topic head only
        torch.testing.assert_close(with_expert[head], without[head])


def test_weight_zero_or_no_gold_trains_none_and_drops_an_earlier_one(tmp_path, tiny_model, tiny_examples):
    examples = _gold_and_annotations(tiny_examples)
    train_pipeline([], examples, tmp_path, tiny_config(epochs=1, convention_weight=0.25), log=lambda m: None,
                   encoder_dir=tiny_model[0] / "pretrained")
    assert (tmp_path / CONVENTION_DIR).is_dir()
    summary, plain = train_pipeline([], examples, tmp_path, tiny_config(epochs=1, convention_weight=0.0),
                                    log=lambda m: None, encoder_dir=tiny_model[0] / "pretrained")
    assert plain.convention is None and summary["convention"] == {} and not (tmp_path / CONVENTION_DIR).exists()
    assert Classifier.load(tmp_path).convention is None
    summary, _ = train_pipeline([], tiny_examples[:40], tmp_path, tiny_config(epochs=1, convention_weight=0.25),
                                log=lambda m: None, encoder_dir=tiny_model[0] / "pretrained")  # no gold among them
    assert summary["convention"] == {} and not (tmp_path / CONVENTION_DIR).exists()


def test_models_saved_before_the_setting_read_as_without_it(tmp_path, tiny_model):
    meta = json.loads((tiny_model[0] / "minsheng.json").read_text(encoding="utf-8"))
    del meta["training"]["config"]["convention_weight"]
    meta.pop("convention_weight", None)
    (tmp_path / "minsheng.json").write_text(json.dumps(meta), encoding="utf-8")
    assert saved_config(tmp_path, seed=1).convention_weight == 0.0


def test_keeps_every_word_cue_it_is_given_and_reads_like_the_companion_with_the_same_tables():
    word_cues = {"公积金": "城乡建设", "物业": "城乡建设"}  # each in half the toy gold: far above any rarity share
    expert = fit_convention(DOCS, GOLD, HEADS["topic"], C=10.0, word_cues=word_cues)
    assert expert.word_cues == word_cues  # judged rare by the companion over all messages, not again over the gold
    companion = LinearCompanion.fit(DOCS, {"topic": GOLD}, {"topic": HEADS["topic"]}, C=10.0, word_cues=word_cues,
                                    word_cue_max_df=1.0)
    assert expert.reads_like(companion)
    shared = companion.term_lists(DOCS)
    np.testing.assert_array_equal(convention_logprobs(expert, DOCS, shared), convention_logprobs(expert, DOCS))
    assert not fit_convention(DOCS, GOLD, HEADS["topic"], C=10.0).reads_like(companion)


def test_training_gives_it_the_companions_cue_tables(tmp_path, tiny_model, tiny_examples):
    examples = _gold_and_annotations(tiny_examples)
    cues = {"物业管理": "城乡建设", "公交线路": "交通运输"}
    word_cues = {"物业": "城乡建设", "公交": "交通运输", "从没见过的词": "交通运输"}
    _, trained = train_pipeline([], examples, tmp_path, tiny_config(epochs=1, convention_weight=0.5),
                                log=lambda m: None, encoder_dir=tiny_model[0] / "pretrained", cues=cues,
                                word_cues=word_cues)
    assert trained.convention.reads_like(trained.linear)
    assert trained.convention.word_cues == trained.linear.word_cues
    assert "从没见过的词" in trained.convention.word_cues  # never seen: rare by any count


def test_without_a_companion_it_judges_word_cues_rare_over_all_the_messages(tiny_model, tiny_examples):
    from nlp.train import fit_convention_expert

    examples = _gold_and_annotations(tiny_examples)
    clf = Classifier.load(tiny_model[0])
    clf.linear = None
    word = next(w for w in ("物业", "公交", "学校", "工资") if any(w in e.text for e in examples))
    fit_convention_expert(clf, examples, tiny_config(convention_weight=0.5), lambda m: None,
                          word_cues={word: "城乡建设", "从没见过的词": "交通运输"})
    assert clf.convention.word_cues == {"从没见过的词": "交通运输"}  # the 1 % of some 60 messages: none of them
