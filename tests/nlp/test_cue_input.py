"""The network's cue input: taxonomy cue counts per topic into the topic head, trained, saved and loaded."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from nlp.classifier import CUE_KEY, HEADS_FILE, Classifier
from nlp.cue_input import CueCounter
from nlp.labels import HEADS, TOPICS
from nlp.linear import LinearCompanion
from nlp.train import saved_config, train_pipeline
from tests.nlp.conftest import tiny_config

CUES = {"物业乱收费": "城乡建设", "拖欠工资": "劳动和社会保障", "公交车班次": "交通运输"}
WORD_CUES = {"噪音": "环境保护", "幼儿园": "教育文体", "出租车": "交通运输", "从没见过的词": "卫生计生"}


def test_counts_each_distinct_cue_once_per_topic_and_table():
    counter = CueCounter(CUES, WORD_CUES, TOPICS)
    counts = counter.counts(["小区物业乱收费，物业乱收费没人管；出租车噪音", "", "拖欠工资，公交车班次少"])
    assert counts.shape == (3, 2 * len(TOPICS)) and counts.dtype == torch.float32
    column = {t: i for i, t in enumerate(TOPICS)}
    expected = np.zeros((3, 2 * len(TOPICS)), np.float32)
    expected[0, column["城乡建设"]] = 1  # the same entry twice counts once
    expected[0, len(TOPICS) + column["交通运输"]] = 1
    expected[0, len(TOPICS) + column["环境保护"]] = 1
    expected[2, column["劳动和社会保障"]] = 1
    expected[2, column["交通运输"]] = 1
    np.testing.assert_allclose(counts.numpy(), np.log1p(expected))


def test_fit_judges_word_cues_rare_as_the_companion_does(tiny_examples):
    texts = [f"{e.title}{e.text}" for e in tiny_examples]
    counter = CueCounter.fit(CUES, WORD_CUES, texts, TOPICS, max_share=0.01)
    docs = [list(t) for t in texts]
    companion = LinearCompanion.fit(docs, {"topic": [e.topic for e in tiny_examples]}, {"topic": HEADS["topic"]},
                                    cues=CUES, word_cues=WORD_CUES, word_cue_max_df=0.01)
    assert counter.word_cues == companion.word_cues
    assert "噪音" not in counter.word_cues and "从没见过的词" in counter.word_cues  # common dropped, unseen kept
    assert counter.cues == CUES


def _train(tmp_path, tiny_model, tiny_examples, **overrides):
    return train_pipeline([], tiny_examples[:60], tmp_path, tiny_config(epochs=3, **overrides), log=lambda m: None,
                          encoder_dir=tiny_model[0] / "pretrained", cues=CUES, word_cues=WORD_CUES)


def test_training_adds_the_layer_and_the_saved_model_predicts_the_same(tmp_path, tiny_model, tiny_examples):
    summary, trained = _train(tmp_path, tiny_model, tiny_examples)
    assert summary["cue_input"]["entries"] == len(CUES) and "own_topic_words" in summary["cue_input"]
    assert trained.model.cue is not None and trained.model.cue.weight.abs().sum() > 0  # it learned from zero
    assert trained.cue_counter.same_tables(trained.linear.cues, trained.linear.word_cues)
    meta = json.loads((tmp_path / "minsheng.json").read_text(encoding="utf-8"))
    assert meta["cue_input"] is True and saved_config(tmp_path, seed=1).cue_input is True
    assert {f"{CUE_KEY}.weight", f"{CUE_KEY}.bias"} <= set(load_file(str(tmp_path / HEADS_FILE)))

    loaded = Classifier.load(tmp_path)
    assert loaded.model.cue is not None
    assert loaded.cue_counter.same_tables(trained.cue_counter.cues, trained.cue_counter.word_cues)
    pairs = [loaded.prepare(e.title, e.text) for e in tiny_examples[60:90]]
    assert "cue_counts" in loaded.encode(pairs[:2])
    before, after = trained.logits(pairs), loaded.logits(pairs)
    for head in ("topic", "sentiment", "appeal"):  # the encoder is stored in float16
        assert before[head].argmax(-1).tolist() == after[head].argmax(-1).tolist()
        torch.testing.assert_close(before[head], after[head], atol=0.05, rtol=0)


def test_the_layer_adds_to_the_topic_logits_only(tmp_path, tiny_model, tiny_examples):
    _train(tmp_path, tiny_model, tiny_examples)
    clf = Classifier.load(tmp_path)
    pairs = [clf.prepare("出租车拒载", "出租车噪音，拖欠工资"), clf.prepare("小区停水", "小区停水停电")]
    with_cues = clf.net_logits(pairs)
    counts = clf.cue_counter.counts(["".join(clf.companion_words(p)) for p in pairs])
    counter, clf.cue_counter = clf.cue_counter, None
    without = clf.net_logits(pairs)
    with torch.no_grad():
        torch.testing.assert_close(with_cues["topic"], without["topic"] + clf.model.cue(counts))
    for head in ("sentiment", "appeal", "risk"):
        torch.testing.assert_close(with_cues[head], without[head])
    clf.cue_counter = counter


def test_switched_off_or_without_cues_there_is_no_layer_and_none_is_left_behind(tmp_path, tiny_model, tiny_examples):
    _train(tmp_path, tiny_model, tiny_examples)
    summary, plain = _train(tmp_path, tiny_model, tiny_examples, cue_input=False)  # over the model with the layer
    assert summary["cue_input"] == {} and plain.model.cue is None
    assert json.loads((tmp_path / "minsheng.json").read_text(encoding="utf-8"))["cue_input"] is False
    assert not any(k.startswith(CUE_KEY) for k in load_file(str(tmp_path / HEADS_FILE)))
    loaded = Classifier.load(tmp_path)
    assert loaded.model.cue is None and loaded.cue_counter is None
    messages = []
    summary, _ = train_pipeline([], tiny_examples[:30], tmp_path / "no-cues", tiny_config(epochs=1),
                                log=messages.append, encoder_dir=tiny_model[0] / "pretrained")
    assert summary["cue_input"] == {} and any("cue input: none" in m for m in messages)


def test_tables_that_differ_from_the_companions_are_refused_on_save(tmp_path, tiny_model, tiny_examples):
    _, trained = _train(tmp_path, tiny_model, tiny_examples)
    trained.cue_counter = CueCounter({"别的条目": "城乡建设"}, {}, TOPICS)
    with pytest.raises(ValueError, match="different cue tables"):
        trained.save(tmp_path / "again")


def test_models_saved_before_the_setting_read_as_without_it(tmp_path, tiny_model):
    meta = json.loads((tiny_model[0] / "minsheng.json").read_text(encoding="utf-8"))
    del meta["training"]["config"]["cue_input"]
    meta.pop("cue_input", None)
    (tmp_path / "minsheng.json").write_text(json.dumps(meta), encoding="utf-8")
    assert saved_config(tmp_path, seed=1).cue_input is False
