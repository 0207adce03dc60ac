"""The linear companion: the same TF-IDF rows as scikit-learn, stored without pickles, fused with the network."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.feature_extraction.text import TfidfVectorizer

from nlp.classifier import Classifier
from nlp.labels import HEADS
from nlp.linear import UNSEEN_LOGIT, VOCAB_FILE, WEIGHTS_FILE, LinearCompanion, ngrams
from nlp.train import train_pipeline
from tests.nlp.conftest import tiny_config

DOCS = [["小区", "物业", "乱收费"], ["物业", "乱收费", "投诉"], ["请问", "公积金", "提取"], ["公积金", "提取", "流程"],
        ["举报", "工厂", "排污"], ["工厂", "排污", "举报"], ["小区", "停水"], ["请问", "流程"]]
TOPIC = ["城乡建设", "城乡建设", "劳动和社会保障", "劳动和社会保障", "环境保护", "环境保护", "城乡建设", "劳动和社会保障"]
APPEAL = ["投诉", "投诉", "咨询", "咨询", "举报", "举报", "投诉", "咨询"]


def _fit(**targets) -> LinearCompanion:
    labels = {"topic": HEADS["topic"], "appeal": HEADS["appeal"], "sentiment": HEADS["sentiment"]}
    return LinearCompanion.fit(DOCS, {"topic": TOPIC, "appeal": APPEAL, **targets}, labels, C=10.0, min_df=1)


def test_rows_are_scikit_learns_tfidf_rows():
    companion = _fit()
    reference = TfidfVectorizer(analyzer=lambda d: d, sublinear_tf=True, min_df=1).fit([ngrams(d) for d in DOCS])
    unseen = [["物业", "物业", "乱收费", "从没见过"], []]
    ours = companion.matrix(unseen).toarray()
    theirs = reference.transform([ngrams(d) for d in unseen]).toarray()
    order = [companion.index[t] for t in reference.get_feature_names_out()]
    np.testing.assert_allclose(ours[:, order], theirs, atol=1e-6)
    assert not ours[1].any()  # an empty message is an all-zero row, not a division by zero


def test_fits_each_head_in_the_classifiers_label_order_and_leaves_unseen_classes_out():
    companion = _fit()
    logits = companion.logits([["请问", "公积金", "提取"], ["举报", "工厂", "排污"]])
    assert set(logits) == {"topic", "appeal"}  # sentiment: no labels, no head
    assert logits["topic"].shape == (2, len(HEADS["topic"]))
    assert HEADS["topic"][logits["topic"][0].argmax()] == "劳动和社会保障"
    assert HEADS["appeal"][logits["appeal"][1].argmax()] == "举报"
    never = HEADS["topic"].index("纪检监察")
    assert logits["topic"][0][never] == pytest.approx(UNSEEN_LOGIT)


def test_a_two_class_head_gives_both_classes_a_logit():
    companion = _fit(sentiment=["negative", "negative", "neutral", "neutral", "negative", "negative", None, "neutral"])
    logits = companion.logits([["请问", "流程"], ["乱收费", "投诉"]])["sentiment"]
    names = HEADS["sentiment"]
    assert names[logits[0].argmax()] == "neutral" and names[logits[1].argmax()] == "negative"
    assert logits[0][names.index("positive")] == pytest.approx(UNSEEN_LOGIT)


def test_saves_plain_arrays_and_loads_the_same_logits(tmp_path):
    companion = _fit()
    companion.save(tmp_path)
    assert (tmp_path / WEIGHTS_FILE).is_file() and (tmp_path / VOCAB_FILE).is_file()
    loaded = LinearCompanion.load(tmp_path)
    assert loaded.vocab == companion.vocab and loaded.C == 10.0
    docs = [["小区", "物业", "乱收费"], ["请问", "公积金"]]
    for head, values in companion.logits(docs).items():
        np.testing.assert_allclose(loaded.logits(docs)[head], values, atol=2e-2)  # weights in float16
    assert LinearCompanion.load(tmp_path / "nowhere") is None


def test_the_classifier_averages_its_log_probabilities_with_the_networks(tmp_path, tiny_model, tiny_examples):
    summary, trained = train_pipeline([], tiny_examples[:60], tmp_path, tiny_config(epochs=2), log=lambda m: None,
                                      encoder_dir=tiny_model[0] / "pretrained")
    assert trained.linear is not None and summary["linear"]["terms"] == len(trained.linear.vocab)
    loaded = Classifier.load(tmp_path)
    assert loaded.linear is not None and json.loads((tmp_path / "minsheng.json").read_text())["linear_C"] == 10.0
    pairs = [loaded.prepare(e.title, e.text) for e in tiny_examples[60:70]]
    net = loaded.net_logits(pairs)
    companion = loaded.linear.logits([loaded.companion_words(p) for p in pairs])
    fused = loaded.logits(pairs)
    for head in ("topic", "sentiment", "appeal"):
        expected = (torch.log_softmax(net[head], -1) + torch.log_softmax(torch.from_numpy(companion[head]), -1)) / 2
        torch.testing.assert_close(fused[head], expected.float())
    torch.testing.assert_close(fused["risk"], net["risk"])  # multi-label risk stays the network's
    assert [p.topic for p in loaded.predict_pairs(pairs)] == [
        HEADS["topic"][int(i)] for i in fused["topic"].argmax(-1)]


def test_the_companion_weight_is_saved_with_the_model_and_sets_each_sides_share(tmp_path, tiny_model, tiny_examples):
    _, trained = train_pipeline([], tiny_examples[:60], tmp_path, tiny_config(epochs=2, companion_weight=0.8),
                                log=lambda m: None, encoder_dir=tiny_model[0] / "pretrained")
    assert json.loads((tmp_path / "minsheng.json").read_text())["companion_weight"] == 0.8
    loaded = Classifier.load(tmp_path)
    assert loaded.companion_weight == 0.8
    pairs = [loaded.prepare(e.title, e.text) for e in tiny_examples[60:70]]
    net = loaded.net_logits(pairs)
    companion = {h: torch.from_numpy(v) for h, v in loaded.linear.logits([loaded.companion_words(p) for p in pairs]).items()}
    fused = loaded.logits(pairs)
    for head in ("topic", "sentiment", "appeal"):
        expected = 0.2 * torch.log_softmax(net[head], -1) + 0.8 * torch.log_softmax(companion[head], -1)
        torch.testing.assert_close(fused[head], expected.float())
    # the two ends: the network alone, the companion alone
    for weight, side in ((0.0, net), (1.0, companion)):
        loaded.meta["companion_weight"] = weight
        fused = loaded.logits(pairs)
        for head in ("topic", "sentiment", "appeal"):
            assert fused[head].argmax(-1).tolist() == side[head].argmax(-1).tolist()
    del loaded.meta["companion_weight"]  # a model saved before the setting existed: equal weights
    assert loaded.companion_weight == 0.5


def test_a_model_saved_without_a_companion_drops_an_earlier_one(tmp_path, tiny_model, tiny_examples):
    _, trained = train_pipeline([], tiny_examples[:40], tmp_path, tiny_config(epochs=1), log=lambda m: None,
                                encoder_dir=tiny_model[0] / "pretrained")
    assert (tmp_path / WEIGHTS_FILE).is_file()
    _, plain = train_pipeline([], tiny_examples[:40], tmp_path, tiny_config(epochs=1, linear_C=0), log=lambda m: None,
                              encoder_dir=tiny_model[0] / "pretrained")
    assert plain.linear is None and not (tmp_path / WEIGHTS_FILE).exists()
    loaded = Classifier.load(tmp_path)
    assert loaded.linear is None
    pairs = [loaded.prepare(e.title, e.text) for e in tiny_examples[:5]]
    torch.testing.assert_close(loaded.logits(pairs)["topic"], loaded.net_logits(pairs)["topic"])


def test_sample_weights_decide_between_conflicting_labels():
    """The same words labelled two ways: weighting one side's messages tips the words to it. The classes stay
    balanced by weighted counts, so the weight moves emphasis within a class (which of its messages count)."""
    docs = [["公积金", "贷款"]] * 5 + [["物业", "收费"]] * 6 + [["社保", "缴费"]] * 4
    topic = ["劳动和社会保障"] * 3 + ["城乡建设"] * 8 + ["劳动和社会保障"] * 4
    labels = {"topic": HEADS["topic"]}
    plain = LinearCompanion.fit(docs, {"topic": topic}, labels, C=10.0, min_df=1)
    weighted = LinearCompanion.fit(docs, {"topic": topic}, labels, C=10.0, min_df=1,
                                   sample_weight=[1, 1, 1, 4, 4] + [1] * 10)
    names = HEADS["topic"]
    assert names[plain.logits([["公积金", "贷款"]])["topic"][0].argmax()] == "劳动和社会保障"
    assert names[weighted.logits([["公积金", "贷款"]])["topic"][0].argmax()] == "城乡建设"
    ones = LinearCompanion.fit(docs, {"topic": topic}, labels, C=10.0, min_df=1, sample_weight=[1.0] * 15)
    np.testing.assert_array_equal(ones.heads["topic"][0], plain.heads["topic"][0])
