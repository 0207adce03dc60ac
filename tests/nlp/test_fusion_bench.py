"""``bench/nlp_fusion.py`` fuses saved logits the way the classifier does, so its review table describes the product."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from nlp.classifier import Classifier
from nlp.convention import convention_logprobs
from nlp.labels import HEADS, SINGLE_LABEL

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "nlp" / "models"
MESSAGES = [
    ("小区物业乱收费", "A市A2区丽发新城小区物业公司每月多收停车费，多次反映无果，请相关部门查处。"),
    ("请问公积金提取流程", "本人在A市工作，想提取住房公积金用于租房，请问需要哪些材料？"),
    ("学校补课收费", "A3区某中学周末组织补课，每人收费800元，家长敢怒不敢言。"),
    ("感谢交警", "昨天在路口车子抛锚，交警同志帮忙推车，特此感谢。"),
]


def _bench():
    spec = importlib.util.spec_from_file_location("nlp_fusion_bench", ROOT / "bench" / "nlp_fusion.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_bench_fuses_saved_logits_as_the_bundled_classifier_does():
    bench = _bench()
    clf = Classifier.load(BUNDLED)
    assert clf.linear is not None
    pairs = [clf.prepare(title, text) for title, text in MESSAGES]
    net = clf.net_logits(pairs)
    words = [clf.companion_words(p) for p in pairs]
    lin = clf.linear.logits(words)
    adjust = clf.meta.get("logit_adjust") or {}
    saved = {"annot_conv_topic": convention_logprobs(clf.convention, words)} if clf.convention is not None else {}
    for head in SINGLE_LABEL:
        shares = adjust.get(head, {}).get("shares") or [1.0 / len(HEADS[head])] * len(HEADS[head])
        saved[f"annot_net_{head}"] = net[head].numpy()
        saved[f"annot_lin_{head}"] = lin[head]
        saved[f"annot_shares_{head}"] = np.tile(np.array(shares, dtype=np.float64), (len(pairs), 1))
    probs = bench.model_probabilities(saved, "annot", BUNDLED)
    expected = {name: torch.softmax(value.float(), -1).numpy() for name, value in clf.logits(pairs).items()}
    for head in SINGLE_LABEL:
        np.testing.assert_allclose(probs[head], expected[head], atol=1e-4, err_msg=head)


def test_the_bench_adds_the_convention_expert_as_the_classifier_does(tmp_path):
    """With an expert at a weight (the bundled model has none since the cue input), as ``Classifier.fuse`` adds it."""
    import json

    from nlp.classifier import META_FILE
    from nlp.convention import fit_convention

    bench = _bench()
    clf = Classifier.load(BUNDLED)
    pairs = [clf.prepare(title, text) for title, text in MESSAGES]
    words = [clf.companion_words(p) for p in pairs]
    clf.convention = fit_convention(words, ["城乡建设", "城乡建设", "教育文体", "交通运输"], HEADS["topic"], C=10.0)
    meta = json.loads((BUNDLED / META_FILE).read_text(encoding="utf-8"))
    meta["training"]["config"]["convention_weight"] = meta["convention_weight"] = clf.meta["convention_weight"] = 0.5
    (tmp_path / META_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    net = clf.net_logits(pairs)
    shares = (clf.meta.get("logit_adjust") or {}).get("topic", {}).get("shares") or [1.0 / len(HEADS["topic"])] * 15
    saved = {"annot_net_topic": net["topic"].numpy(), "annot_lin_topic": clf.linear.logits(words)["topic"],
             "annot_shares_topic": np.tile(np.array(shares, dtype=np.float64), (len(pairs), 1)),
             "annot_conv_topic": convention_logprobs(clf.convention, words)}
    for head in ("sentiment", "appeal"):  # read by model_probabilities, not compared here
        saved[f"annot_net_{head}"] = saved[f"annot_lin_{head}"] = np.zeros((len(pairs), len(HEADS[head])))
        saved[f"annot_shares_{head}"] = np.full((len(pairs), len(HEADS[head])), 1.0 / len(HEADS[head]))
    probs = bench.model_probabilities(saved, "annot", tmp_path)
    expected = torch.softmax(clf.logits(pairs)["topic"].float(), -1).numpy()
    np.testing.assert_allclose(probs["topic"], expected, atol=1e-4)
    clf.meta["convention_weight"] = 0.0  # and the expert does move these messages
    assert not np.allclose(torch.softmax(clf.logits(pairs)["topic"].float(), -1).numpy(), expected, atol=1e-3)
