"""Training on generated data: losses fall, the run is reproducible, the saved model predicts the same."""
from __future__ import annotations

import json

import pytest
import torch

from nlp.classifier import Classifier, ModelDirError
from nlp.labels import APPEALS, SENTIMENTS, TOPICS
from nlp.train import build_vocab, train_pipeline
from tests.nlp.conftest import generated, tiny_config


def test_losses_fall(tiny_model):
    _, summary = tiny_model
    pre, fine = summary["pretraining"], summary["finetuning"]
    assert pre["loss_last"] < pre["loss_first"]
    assert fine["loss"][-1] < 0.5 * fine["loss"][0]


def test_saved_model_loads_and_predicts_the_same(tmp_path, tiny_examples):
    texts = [f"{e.title}\n{e.text}" for e in tiny_examples]
    _, trained = train_pipeline(texts, tiny_examples, tmp_path, tiny_config(mlm_steps=5, epochs=6), log=lambda m: None)
    loaded = Classifier.load(tmp_path)
    items = [(e.title, e.text) for e in tiny_examples[:20]]
    before, after = trained.predict(items), loaded.predict(items)
    assert [p.topic for p in before] == [p.topic for p in after]
    assert [p.sentiment for p in before] == [p.sentiment for p in after]
    assert [p.appeal for p in before] == [p.appeal for p in after]
    for a, b in zip(before, after):  # weights are stored in float16
        assert abs(a.topic_score - b.topic_score) < 0.02
    meta = json.loads((tmp_path / "minsheng.json").read_text(encoding="utf-8"))
    assert meta["labels"]["topic"] == list(TOPICS) and meta["pre_tokenize"] == "jieba"
    assert (tmp_path / "pretrained" / "config.json").is_file()


def _round_trip_with_pooling(tmp_path, tiny_model, tiny_examples, pooling: str) -> Classifier:
    """Train briefly with ``pooling``: heads twice as wide, the setting stored, the saved model predicting the same."""
    summary, trained = train_pipeline([], tiny_examples[:40], tmp_path, tiny_config(epochs=2, pooling=pooling),
                                      log=lambda m: None, encoder_dir=tiny_model[0] / "pretrained")
    assert summary["config"]["pooling"] == pooling
    loaded = Classifier.load(tmp_path)
    assert loaded.model.pooling == pooling
    for head in ("topic", "appeal"):
        assert loaded.model.heads[head].in_features == 2 * loaded.model.encoder.config.hidden_size
    items = [(e.title, e.text) for e in tiny_examples[:10]]
    assert [(p.topic, p.appeal) for p in trained.predict(items)] == [(p.topic, p.appeal) for p in loaded.predict(items)]
    return loaded


def test_title_pooling_round_trips_and_reads_the_title(tmp_path, tiny_model, tiny_examples):
    """``pooling="mean+title"``: heads twice as wide, the setting stored, the saved model predicting the same."""
    from nlp.classifier import title_mask

    loaded = _round_trip_with_pooling(tmp_path, tiny_model, tiny_examples, "mean+title")
    # the title segment: [CLS] title [SEP] (type 0) and not the body; without segments, the first token
    mask = torch.tensor([[1, 1, 1, 1, 1, 0]])
    types = torch.tensor([[0, 0, 0, 1, 1, 0]])
    assert title_mask(mask, types).tolist() == [[1, 1, 1, 0, 0, 0]]
    assert title_mask(mask, None).tolist() == [[1, 0, 0, 0, 0, 0]]
    with pytest.raises(ValueError, match="pooling"):
        Classifier(loaded.tokenizer, type(loaded.model)(loaded.model.encoder, {"topic": ["a"]}, pooling="max"), {})


def test_max_pooling_round_trips_and_ignores_padding(tmp_path, tiny_model, tiny_examples):
    """``pooling="mean+max"``: the per-feature maximum over real tokens only; stored and reloaded."""
    from nlp.classifier import max_pool

    _round_trip_with_pooling(tmp_path, tiny_model, tiny_examples, "mean+max")
    # a padded position with a larger value never wins
    hidden = torch.tensor([[[1.0, -2.0], [3.0, -1.0], [9.0, 9.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert max_pool(hidden, mask).tolist() == [[3.0, -1.0]]


def test_training_is_reproducible_from_the_seed(tmp_path, tiny_examples):
    texts = [f"{e.title}\n{e.text}" for e in tiny_examples[:40]]
    cfg = tiny_config(mlm_steps=4, epochs=2)
    a, _ = train_pipeline(texts, tiny_examples[:40], tmp_path / "a", cfg, log=lambda m: None)
    b, _ = train_pipeline(texts, tiny_examples[:40], tmp_path / "b", cfg, log=lambda m: None)
    assert a["pretraining"]["loss_last"] == b["pretraining"]["loss_last"]
    assert a["finetuning"]["loss"] == b["finetuning"]["loss"]


def test_tiny_model_learns_its_training_data(tiny_model, tiny_examples):
    clf = Classifier.load(tiny_model[0])
    preds = clf.predict([(e.title, e.text) for e in tiny_examples])
    right = sum(p.topic == e.topic for p, e in zip(preds, tiny_examples))
    assert right / len(tiny_examples) >= 0.8
    p = preds[0]
    assert set(p.topic_scores) == set(TOPICS) and abs(sum(p.topic_scores.values()) - 1) < 0.01
    assert p.sentiment in SENTIMENTS and p.appeal in APPEALS


def test_continues_from_a_saved_encoder(tmp_path, tiny_model, tiny_examples):
    """A retrain with new corrections skips pre-training by starting from ``pretrained/``."""
    summary, clf = train_pipeline([], tiny_examples[:30], tmp_path, tiny_config(epochs=1), log=lambda m: None,
                                  encoder_dir=tiny_model[0] / "pretrained")
    assert clf.pre_tokenize == "jieba" and summary["encoder"].startswith("pretrained (reused")
    # the encoder's own pre-training record travels with it, and the encoder sits beside the new model
    original = json.loads((tiny_model[0] / "minsheng.json").read_text(encoding="utf-8"))["training"]["pretraining"]
    assert summary["pretraining"] == original
    assert (tmp_path / "pretrained" / "config.json").is_file()
    assert Classifier.load(tmp_path).predict([("小区停水", "小区停水三天了")])[0].topic in TOPICS


def test_vocabulary_has_every_character_as_a_fallback():
    vocab = build_vocab([["拆迁安置", "拆迁安置", "公积金"]], min_freq=2, max_words=10)
    assert "拆迁安置" in vocab and "公积金" not in vocab
    assert "公" in vocab and "##积" in vocab and vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def test_a_plain_encoder_directory_is_refused_with_a_hint(tiny_model):
    with pytest.raises(ModelDirError, match="minsheng train --encoder"):
        Classifier.load(tiny_model[0] / "pretrained")


def test_empty_batch():
    assert generated(0) == []
    assert torch.zeros(0).numel() == 0


def test_class_weight_modes_per_head():
    from nlp.train import class_weights, head_weight_mode

    assert head_weight_mode("balanced", "appeal") == "balanced"
    assert head_weight_mode("topic=none,appeal=sqrt", "appeal") == "sqrt"
    assert head_weight_mode("topic=none,appeal=sqrt", "sentiment") == "none"
    y = torch.tensor([0, 0, 0, 1, -100])
    assert class_weights(y, 2, "none") is None
    balanced = class_weights(y, 2, "balanced")
    assert balanced[1] > balanced[0]
    with pytest.raises(ValueError, match="unknown class-weight mode"):
        class_weights(y, 2, "inverse")


def test_weight_averaging_is_the_mean_of_the_snapshots():
    from torch import nn

    from nlp.train import _accumulate

    layer = nn.Linear(2, 1)
    snapshots = []
    averaged = None
    for count, value in enumerate((1.0, 2.0, 6.0), 1):
        with torch.no_grad():
            layer.weight.fill_(value)
        snapshots.append(value)
        averaged = _accumulate(averaged, layer, count)
    assert torch.allclose(averaged["weight"], torch.full((1, 2), sum(snapshots) / 3))


def test_wide_path_round_trips_and_reads_only_real_pieces(tmp_path, tiny_model, tiny_examples):
    """``wide_buckets``: a bag of word pieces and hashed bigrams beside the encoder, stored and reloaded;
    padding adds no feature, and the bag moves the logits only once it has learnt something."""
    from nlp.classifier import WidePath

    summary, trained = train_pipeline([], tiny_examples[:40], tmp_path, tiny_config(epochs=2, wide_buckets=64),
                                      log=lambda m: None, encoder_dir=tiny_model[0] / "pretrained")
    assert summary["config"]["wide_buckets"] == 64
    assert trained.model.wide.bag.weight.abs().sum() > 0  # it was trained
    loaded = Classifier.load(tmp_path)
    assert loaded.model.wide_buckets == 64 and loaded.model.wide is not None
    items = [(e.title, e.text) for e in tiny_examples[:10]]
    assert [(p.topic, p.appeal) for p in trained.predict(items)] == [(p.topic, p.appeal) for p in loaded.predict(items)]
    # the bag reads the whole of a long message, where the encoder reads max_length pieces of it
    long_body = "。".join(e.text for e in tiny_examples[:30])
    enc = loaded.encode([loaded.prepare("标题", long_body)])
    assert enc["input_ids"].shape[1] <= loaded.max_length < enc["wide_ids"].shape[1]

    wide = WidePath(vocab_size=10, buckets=4, outputs=2)
    ids, mask = torch.tensor([[2, 7, 3, 0]]), torch.tensor([[1, 1, 1, 0]])
    feats = wide.features(ids, mask)
    assert (feats != wide.pad).sum() == 3 + 2  # three pieces, two bigrams; the padded one is left out
    assert all(10 <= int(f) < 14 for f in feats[0, 4:] if f != wide.pad)
    assert wide(ids, mask).abs().sum() == 0  # starts at zero: the encoder alone decides at first
    with pytest.raises(ValueError, match="wide_buckets"):
        type(loaded.model)(loaded.model.encoder, {"topic": ["a"]}, wide_buckets=-1)


def test_head_share_is_stored_and_sets_how_much_of_a_long_body_comes_from_its_end(tmp_path, tiny_model, tiny_examples):
    """``head_share``: the share of a long body's budget read from its start; stored with the model, and
    a model that stores none (trained before the setting existed) reads as before (``HEAD_SHARE``)."""
    from nlp.classifier import HEAD_SHARE, head_tail

    assert head_tail(list(range(10)), 4, 0.5) == [0, 1, 8, 9]
    assert HEAD_SHARE == 0.7 and head_tail(list(range(20)), 10) == [0, 1, 2, 3, 4, 5, 6, 17, 18, 19]
    assert head_tail([1, 2], 4, 0.1) == [1, 2]
    summary, trained = train_pipeline([], tiny_examples[:20], tmp_path, tiny_config(epochs=1, head_share=0.25),
                                      log=lambda m: None, encoder_dir=tiny_model[0] / "pretrained")
    assert summary["config"]["head_share"] == 0.25
    loaded = Classifier.load(tmp_path)
    assert loaded.head_share == 0.25
    body = "。".join(f"第{i}句话" for i in range(200))
    first, last = body.split("。")[0], body.split("。")[-1]
    assert last in loaded.prepare("标题", body)[1].replace(" ", "")
    # a model without the setting keeps 70 % of the budget for the start
    meta_path = tmp_path / "minsheng.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    del meta["head_share"]
    meta_path.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    old = Classifier.load(tmp_path)
    assert old.head_share == HEAD_SHARE
    assert first in old.prepare("标题", body)[1].replace(" ", "")
    # the same budget, split differently: more of the end with the smaller share
    new_body, old_body = loaded.prepare("标题", body)[1], old.prepare("标题", body)[1]
    assert len(new_body.split()) == len(old_body.split()) and new_body != old_body
    assert new_body.split()[-5:] == old_body.split()[-5:]


def test_gold_weight_weights_each_example_in_the_heads_loss():
    """``gold_weight``: a gold message counts that many annotations in the loss (class weights and unlabelled
    rows treated as the plain mean treats them, so weight 1 is the plain mean)."""
    from torch import nn

    from nlp.corpus import Example
    from nlp.train import _weighted_mean, sample_weights

    examples = [Example("1", "", "", source="gold"), Example("2", "", "", source="annotation"),
                Example("3", "", "", source="correction")]
    assert sample_weights(examples, 4.0) == [4.0, 1.0, 1.0]
    torch.manual_seed(0)
    logits, y = torch.randn(4, 3), torch.tensor([0, 2, -100, 1])
    for class_weight in (None, torch.tensor([1.0, 2.0, 0.5])):
        plain = nn.CrossEntropyLoss(weight=class_weight, ignore_index=-100, label_smoothing=0.05)
        per_example = nn.CrossEntropyLoss(weight=class_weight, ignore_index=-100, label_smoothing=0.05,
                                          reduction="none")
        assert torch.allclose(_weighted_mean(per_example, logits, y, torch.ones(4)), plain(logits, y))
    per_example = nn.CrossEntropyLoss(ignore_index=-100, reduction="none")
    each = per_example(logits, y)
    expected = (3 * each[0] + each[1] + each[3]) / 5  # the unlabelled row (-100) counts for nothing
    assert torch.allclose(_weighted_mean(per_example, logits, y, torch.tensor([3.0, 1.0, 9.0, 1.0])), expected)


def test_gold_weight_is_recorded_and_read_back(tmp_path, tiny_examples):
    from nlp.train import saved_config

    summary, _ = train_pipeline([f"{e.title}\n{e.text}" for e in tiny_examples], tiny_examples, tmp_path,
                                tiny_config(mlm_steps=5, epochs=2, gold_weight=3.0), log=lambda m: None)
    assert all(loss == loss for loss in summary["finetuning"]["loss"])  # the weighted path ran, no NaN
    assert saved_config(tmp_path, seed=1).gold_weight == 3.0 and saved_config(tmp_path, seed=1).word_cues is True
    meta = json.loads((tmp_path / "minsheng.json").read_text(encoding="utf-8"))
    assert meta["training"]["config"]["gold_weight"] == 3.0
    # a model saved before the setting existed was trained with every message equal: its folds are re-run so
    del meta["training"]["config"]["gold_weight"]
    del meta["training"]["config"]["word_cues"]  # and its companion read no taxonomy words
    (tmp_path / "minsheng.json").write_text(json.dumps(meta), encoding="utf-8")
    assert saved_config(tmp_path, seed=1).gold_weight == 1.0 and saved_config(tmp_path, seed=1).word_cues is False
