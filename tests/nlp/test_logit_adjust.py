"""Logit adjustment: a head trained without class weights, shifted at prediction time by the training class shares."""
from __future__ import annotations

import json
import math

import pytest
import torch

from nlp.classifier import Classifier
from nlp.labels import HEADS
from nlp.train import parse_logit_adjust, train_pipeline
from tests.nlp.conftest import tiny_config


def test_the_setting_is_read_per_head_and_bad_ones_are_refused():
    assert parse_logit_adjust("") == {}
    assert parse_logit_adjust("appeal=0.5, topic=1") == {"appeal": 0.5, "topic": 1.0}
    for bad in ("appeal", "appeal=x", "risk=0.5", "appeal=-1", "appeal=3", "mood=0.5"):
        with pytest.raises(ValueError, match="appeal=0.5"):
            parse_logit_adjust(bad)


def test_shares_are_stored_with_the_model_and_shift_its_log_probabilities(tmp_path, tiny_model, tiny_examples):
    train = tiny_examples[:60]
    summary, _ = train_pipeline([], train, tmp_path, tiny_config(epochs=1, linear_C=0, logit_adjust="appeal=0.5"),
                                log=lambda m: None, encoder_dir=tiny_model[0] / "pretrained")
    stored = json.loads((tmp_path / "minsheng.json").read_text(encoding="utf-8"))["logit_adjust"]
    labels = HEADS["appeal"]
    counts = [sum(e.appeal == lab for e in train) for lab in labels]
    expected = [(c + 1) / (sum(counts) + len(labels)) for c in counts]  # add-one: no class has share 0
    assert stored["appeal"]["tau"] == 0.5 and stored["appeal"]["shares"] == pytest.approx(expected, abs=1e-6)
    assert summary["logit_adjust"] == stored and set(stored) == {"appeal"}

    loaded = Classifier.load(tmp_path)
    pairs = [loaded.prepare(e.title, e.text) for e in tiny_examples[60:70]]
    net = loaded.net_logits(pairs)
    adjusted = loaded.logits(pairs)
    shift = torch.tensor([-0.5 * math.log(s) for s in expected])
    torch.testing.assert_close(adjusted["appeal"], torch.log_softmax(net["appeal"], -1) + shift, atol=1e-4, rtol=0)
    torch.testing.assert_close(adjusted["topic"], net["topic"])  # other heads untouched
    # the rarer a class in training, the more its score rises against the most common one
    probs = torch.softmax(adjusted["appeal"], -1) / torch.softmax(net["appeal"], -1)
    common, rare = max(range(len(counts)), key=counts.__getitem__), min(range(len(counts)), key=counts.__getitem__)
    assert bool((probs[:, rare] > probs[:, common]).all())


def test_a_model_without_the_setting_predicts_as_before(tmp_path, tiny_model, tiny_examples):
    train_pipeline([], tiny_examples[:40], tmp_path, tiny_config(epochs=1, linear_C=0), log=lambda m: None,
                   encoder_dir=tiny_model[0] / "pretrained")
    assert json.loads((tmp_path / "minsheng.json").read_text(encoding="utf-8"))["logit_adjust"] == {}
    loaded = Classifier.load(tmp_path)
    pairs = [loaded.prepare(e.title, e.text) for e in tiny_examples[:5]]
    torch.testing.assert_close(loaded.logits(pairs)["appeal"], loaded.net_logits(pairs)["appeal"])
