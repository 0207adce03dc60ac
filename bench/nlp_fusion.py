"""How the network and the linear companion are combined: a sweep over held-out logits, chosen on annotations.

The classifier adds ``(1 - w)`` times the network's log-probabilities (logit-adjusted per head by ``tau`` times
the log of the training class shares) to ``w`` times the companion's. This script runs the folds of
``minsheng evaluate`` (same seed, same split, same training) once, keeps every held-out message's raw network
and companion logits (``--save FILE.npz``; ``--load`` reuses them), and prints, for each head and each
``w`` / ``tau``, accuracy and macro-F1 pooled over the folds.

The choice is made on the annotations' held-out folds only; the gold topic column is printed beside it as the
test the choice did not look at.

The convention expert (``nlp.convention``, fitted on each fold's gold alone) is kept too, and a second table
sweeps its weight at the model's companion weight and topic tau, gold and annotations side by side (that choice
trades one against the other). ``--add-convention`` fits the expert per fold into logits saved without it (a
minute; the network is not retrained).

    .venv/bin/python bench/nlp_fusion.py --data ../shared/data/gov_messages --save /tmp/fusion.npz --jobs 2
    .venv/bin/python bench/nlp_fusion.py --load /tmp/fusion.npz
    .venv/bin/python bench/nlp_fusion.py --load /tmp/fusion.npz --add-convention
    .venv/bin/python bench/nlp_fusion.py --load /tmp/fusion.npz --review

``--review`` prints, for the model's own weights, how long the analysts' review queue is at a few threshold
settings (``MINSHENG_REVIEW_*_BELOW``) and how many of the held-out errors it catches (the table in docs/nlp.md).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nlp.evaluate import TransformerFitPredict  # noqa: E402
from nlp.labels import HEADS, SINGLE_LABEL  # noqa: E402

WEIGHTS = (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0)
TAUS = (0.0, 0.25, 0.5, 0.75, 1.0)
CONVENTION_WEIGHTS = (0.0, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 1.0, 2.0)


def convention_out(train, test, cfg, clf, pairs: dict, cues, word_cues) -> dict[str, list]:
    """The convention expert's topic log-probabilities for a fold's test messages (fitted on its gold)."""
    from nlp.convention import convention_logprobs
    from nlp.train import fit_convention_expert

    fit_convention_expert(clf, train, cfg, lambda m: None, pairs=[pairs[e.id + e.source] for e in train], cues=cues,
                          word_cues=word_cues)
    if clf.convention is None:
        return {}
    words = [clf.companion_words(pairs[e.id + e.source]) for e in test]
    return {"conv_topic": list(convention_logprobs(clf.convention, words))}


class LogitsFitPredict(TransformerFitPredict):
    """One fold as ``minsheng evaluate`` trains it, returning raw logits instead of labels."""

    def __call__(self, train, test):
        from nlp.train import (attach_cue_input, class_shares, cue_layer_summary, finetune, fit_companion,
                               fresh_classifier, seed_everything)

        seed_everything(self.cfg.seed)
        clf = fresh_classifier(self.encoder_dir, self.cfg, self.meta)
        pairs = {e.id + e.source: clf.prepare(e.title, e.text) for e in (*train, *test)}
        train_pairs = [pairs[e.id + e.source] for e in train]
        attach_cue_input(clf, train, self.cfg, self.log, pairs=train_pairs, cues=self.cues, word_cues=self.word_cues)
        finetune(clf, train, self.cfg, self.log, pairs=train_pairs)
        if clf.model.cue is not None:
            self.log(f"  cue layer, mean weight on its own topic: {cue_layer_summary(clf)}")
        fit_companion(clf, train, self.cfg, self.log, pairs=train_pairs, cues=self.cues, word_cues=self.word_cues)
        test_pairs = [pairs[e.id + e.source] for e in test]
        net = clf.net_logits(test_pairs)
        lin = clf.linear.logits([clf.companion_words(p) for p in test_pairs])
        out: dict[str, list] = {}
        for head in SINGLE_LABEL:
            shares = np.array(class_shares(train, head, HEADS[head]))
            out[f"net_{head}"] = list(net[head].numpy())
            out[f"lin_{head}"] = list(lin[head])
            out[f"shares_{head}"] = [shares] * len(test)
        out.update(convention_out(train, test, self.cfg, clf, pairs, self.cues, self.word_cues))
        return out


class ConventionFitPredict(TransformerFitPredict):
    """One fold's convention expert alone (no network): for logits saved before it existed."""

    def __call__(self, train, test):
        from nlp.classifier import Classifier

        clf = Classifier.load(self.encoder_dir.parent)  # only for prepare() and the label order
        clf.linear = None  # the expert judges its word cues' rarity on this fold's messages, not the bundled model's
        pairs = {e.id + e.source: clf.prepare(e.title, e.text) for e in (*train, *test)}
        return convention_out(train, test, self.cfg, clf, pairs, self.cues, self.word_cues)


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


def fused(net: np.ndarray, lin: np.ndarray, shares: np.ndarray, w: float, tau: float) -> np.ndarray:
    return (1 - w) * (log_softmax(net) - tau * np.log(shares)) + w * log_softmax(lin)


def scores(truth: list[str], labels: tuple[str, ...], logits: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import accuracy_score, f1_score

    pred = [labels[i] for i in logits.argmax(axis=1)]
    return accuracy_score(truth, pred), f1_score(truth, pred, labels=sorted(set(truth)), average="macro",
                                                 zero_division=0)


def _config(model: Path, gold_weight: float | None, word_cues: bool | None, cue_input: bool | None = None):
    from nlp.train import saved_config

    cfg = saved_config(model, seed=13)
    if gold_weight is not None:  # a setting under trial, before a model is trained with it
        cfg.gold_weight = gold_weight
    if word_cues is not None:
        cfg.word_cues = word_cues
    if cue_input is not None:
        cfg.cue_input = cue_input
    if not cfg.convention_weight:  # the expert is fitted for the sweep whatever the model's own weight
        cfg.convention_weight = 1.0
    return cfg


def collect(data: Path, model: Path, jobs: int, save: Path, gold_weight: float | None = None,
            word_cues: bool | None = None, cue_input: bool | None = None) -> None:
    from nlp import corpus
    from nlp.cli import _topic_cues
    from nlp.evaluate import cross_validate

    cfg = _config(model, gold_weight, word_cues, cue_input)
    gold, ann = corpus.load_gold(data), corpus.load_annotations(data)
    cues, words = _topic_cues(data, cfg)
    run = LogitsFitPredict(model / "pretrained", cfg, print, cues=cues, word_cues=words)
    result = cross_validate("fusion", gold, ann, 5, cfg.seed, run, print, jobs)
    arrays = {f"gold_{k}": np.stack(v) for k, v in result.gold_pred.items() if v and v[0] is not None}
    arrays.update({f"annot_{k}": np.stack(v) for k, v in result.annot_pred.items() if v and v[0] is not None})
    arrays["gold_truth_topic"] = np.array([e.topic for e in gold])
    for head in SINGLE_LABEL:
        arrays[f"annot_truth_{head}"] = np.array([getattr(e, head) for e in ann])
    np.savez_compressed(save, **arrays)
    print(f"saved {save} ({result.seconds:.0f} s of folds)")


def add_convention(data: Path, model: Path, saved: Path, word_cues: bool | None = None) -> None:
    """Fit the convention expert on the same folds and add its held-out log-probabilities to ``saved``."""
    from nlp import corpus
    from nlp.cli import _topic_cues
    from nlp.evaluate import cross_validate

    cfg = _config(model, None, word_cues)
    gold, ann = corpus.load_gold(data), corpus.load_annotations(data)
    cues, words = _topic_cues(data, cfg)
    run = ConventionFitPredict(model / "pretrained", cfg, print, cues=cues, word_cues=words)
    result = cross_validate("convention", gold, ann, 5, cfg.seed, run, print, 1)
    arrays = dict(np.load(saved))
    arrays["gold_conv_topic"] = np.stack(result.gold_pred["conv_topic"])
    arrays["annot_conv_topic"] = np.stack(result.annot_pred["conv_topic"])
    np.savez_compressed(saved, **arrays)
    print(f"added the convention expert's logits to {saved}")


def convention_sweep(z, w: float, tau: float) -> None:
    """Topic acc / macro-F1 with the convention expert added at each weight, gold and annotations."""
    labels = HEADS["topic"]
    print(f"\ntopic + convention expert (companion weight {w}, tau {tau}); acc / macro-F1")
    print(f"{'weight':>6}{'annotations':>26}{'gold':>26}")
    for weight in CONVENTION_WEIGHTS:
        row = f"{weight:6.2f}"
        for key in ("annot", "gold"):
            logits = fused(z[f"{key}_net_topic"], z[f"{key}_lin_topic"], z[f"{key}_shares_topic"], w, tau)
            acc, f1 = scores(list(z[f"{key}_truth_topic"]), labels, logits + weight * z[f"{key}_conv_topic"])
            row += f"{acc:13.4f}{f1:13.4f}"
        print(row)


REVIEW_THRESHOLDS = ((0.45, 0.6, 0.45), (0.5, 0.6, 0.45), (0.55, 0.6, 0.45), (0.45, 0.55, 0.45), (0.4, 0.55, 0.4),
                     (0.35, 0.55, 0.4), (0.5, 0.55, 0.55))
TOPIC_BANDS = (0.0, 0.3, 0.4, 0.45, 0.5, 0.6, 1.01)


def softmax(x: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(x))


def model_probabilities(z, key: str, model: Path) -> dict[str, np.ndarray]:
    """Held-out probabilities per head as the model fuses them (its companion weight, logit adjustment and
    convention weight), for ``key`` ("annot" or "gold")."""
    from nlp.train import parse_logit_adjust, saved_config

    cfg = saved_config(model, seed=13)
    taus = parse_logit_adjust(cfg.logit_adjust)
    heads = SINGLE_LABEL if key == "annot" else ("topic",)
    out = {}
    for head in heads:
        logits = fused(z[f"{key}_net_{head}"], z[f"{key}_lin_{head}"], z[f"{key}_shares_{head}"], cfg.companion_weight,
                       taus.get(head, 0.0))
        if head == "topic" and f"{key}_conv_topic" in z:
            logits = logits + cfg.convention_weight * z[f"{key}_conv_topic"]
        out[head] = softmax(logits)
    return out


def review_table(saved: Path, model: Path) -> None:
    """Queue length against errors caught for the model's fused probabilities, pooled over the held-out folds."""
    z = np.load(saved)
    probs = model_probabilities(z, "annot", model)
    wrong = {h: np.array(HEADS[h])[probs[h].argmax(1)] != z[f"annot_truth_{h}"] for h in SINGLE_LABEL}
    best = {h: probs[h].max(1) for h in SINGLE_LABEL}
    n = len(best["topic"])
    print(f"\nreview queue over {n} held-out annotations (model's weights; thresholds topic / sentiment / appeal)")
    print(f"{'thresholds':>18}{'queued':>9}{'topic errors caught':>22}{'appeal errors caught':>22}{'topic acc outside':>19}")
    for t, s, a in REVIEW_THRESHOLDS:
        queued = (best["topic"] < t) | (best["sentiment"] < s) | (best["appeal"] < a)
        outside = ~queued
        caught = {h: f"{(wrong[h] & queued).sum()} of {wrong[h].sum()}" for h in ("topic", "appeal")}
        print(f"{t:6.2f} /{s:5.2f} /{a:5.2f}{queued.mean():8.1%}{caught['topic']:>22}{caught['appeal']:>22}"
              f"{1 - wrong['topic'][outside].mean():19.3f}")
    print("topic accuracy by topic score band (annotations | gold):")
    gold = model_probabilities(z, "gold", model)["topic"]
    gold_wrong = np.array(HEADS["topic"])[gold.argmax(1)] != z["gold_truth_topic"]
    for lo, hi in zip(TOPIC_BANDS, TOPIC_BANDS[1:]):
        row = f"  {lo:.2f}-{min(hi, 1.0):.2f}"
        for score, miss in ((best["topic"], wrong["topic"]), (gold.max(1), gold_wrong)):
            band = (score >= lo) & (score < hi)
            row += f"   {1 - miss[band].mean():.3f} of {band.sum():>5}" if band.any() else f"   {'-':>5} of {0:>5}"
        print(row)


def sweep(saved: Path, model: Path | None = None) -> None:
    z = np.load(saved)
    for head in SINGLE_LABEL:
        labels = HEADS[head]
        print(f"\n{head}: w (companion weight) x tau (network logit adjustment); acc / macro-F1")
        sets = [("annotations", "annot")] + ([("gold (test)", "gold")] if head == "topic" else [])
        print(f"{'w':>5} {'tau':>5}" + "".join(f"{name:>26}" for name, _ in sets))
        for w in WEIGHTS:
            for tau in TAUS:
                if w == 1.0 and tau:
                    continue
                row = f"{w:5.2f} {tau:5.2f}"
                for _, key in sets:
                    logits = fused(z[f"{key}_net_{head}"], z[f"{key}_lin_{head}"], z[f"{key}_shares_{head}"], w, tau)
                    acc, f1 = scores(list(z[f"{key}_truth_{head}"]), labels, logits)
                    row += f"{acc:13.4f}{f1:13.4f}"
                print(row)
    if "gold_conv_topic" in z:
        from nlp.train import parse_logit_adjust, saved_config

        cfg = saved_config(model or Path("nlp/models"), seed=13)
        convention_sweep(z, cfg.companion_weight, parse_logit_adjust(cfg.logit_adjust).get("topic", 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/gov_messages"))
    parser.add_argument("--model", type=Path, default=Path("nlp/models"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--save", type=Path, help="run the folds and keep their held-out logits here (.npz)")
    parser.add_argument("--load", type=Path, help="sweep logits saved by an earlier --save")
    parser.add_argument("--gold-weight", type=float, help="train the folds with this gold weight (default: the model's)")
    parser.add_argument("--word-cues", action=argparse.BooleanOptionalAction,
                        help="give the companion the taxonomy's word cues (default: as the model was trained)")
    parser.add_argument("--cue-input", action=argparse.BooleanOptionalAction,
                        help="feed the cue counts to the network's topic head (default: as the model was trained)")
    parser.add_argument("--review", action="store_true",
                        help="with --load: print the review queue's length and the errors it catches instead of the sweep")
    parser.add_argument("--add-convention", action="store_true",
                        help="with --load: fit the convention expert on the same folds and add its logits to FILE")
    args = parser.parse_args()
    if not args.load and not args.save:
        parser.error("give --save FILE.npz (run the folds) or --load FILE.npz (sweep saved logits)")
    if args.add_convention and not args.load:
        parser.error("--add-convention adds to logits saved earlier: give --load FILE.npz")
    if args.save:
        collect(args.data, args.model, args.jobs, args.save, args.gold_weight, args.word_cues, args.cue_input)
    if args.review:
        if not args.load:
            parser.error("--review reads logits saved earlier: give --load FILE.npz")
        review_table(args.load, args.model)
        return
    if args.add_convention:
        add_convention(args.data, args.model, args.load, args.word_cues)
    sweep(args.load or args.save, args.model)


if __name__ == "__main__":
    main()
