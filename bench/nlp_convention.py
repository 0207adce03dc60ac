"""Can the convention expert learn more from the annotations? A fold experiment (the bundled expert is unchanged).

The convention expert (``nlp.convention``) is a TF-IDF regression fitted on a fold's 278 gold messages alone. This
script refits it on the same 5 folds as ``minsheng evaluate`` with, beside the gold (weight 1), the fold's training
annotations whose topic is one of the gold's 7 (weight ``a``: the expert still scores only the gold's topics), and
prints:

1. the expert alone on the held-out gold, for each annotation weight;
2. with ``--nested``, the weight chosen inside each fold by 4-fold cross-validation over that fold's own gold
   (so no held-out message chooses it), and the held-out score of that choice;
3. with ``--load FILE.npz`` (the held-out logits of ``bench/nlp_fusion.py --save``), each expert added to the
   fused network + companion at several convention weights, annotations and gold side by side.

    .venv/bin/python bench/nlp_convention.py --data ../shared/data/gov_messages --nested --load /tmp/fusion.npz
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))

from nlp_fusion import fused, scores  # noqa: E402  (the same fusion and scores as the sweep of the weights)

ANNOTATION_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3)
CONVENTION_WEIGHTS = (0.25, 0.5, 1.0, 2.0)
INNER_FOLDS = 4


class Folds:
    """The messages' companion words and the evaluation's fold numbers, read once."""

    def __init__(self, data: Path, model: Path, seed: int = 13):
        from nlp import corpus
        from nlp.classifier import Classifier
        from nlp.cli import _topic_cues
        from nlp.evaluate import assign_folds
        from nlp.labels import HEADS
        from nlp.train import saved_config

        self.cfg = saved_config(model, seed=seed)
        self.gold, self.ann = corpus.load_gold(data), corpus.load_annotations(data)
        clf = Classifier.load(model)  # for prepare() and companion_words() only
        self.gold_words = [clf.companion_words(clf.prepare(e.title, e.text)) for e in self.gold]
        self.ann_words = [clf.companion_words(clf.prepare(e.title, e.text)) for e in self.ann]
        self.cues, self.word_cues = _topic_cues(data, self.cfg)
        self.labels = list(HEADS["topic"])
        self.gold_topics = sorted({e.topic for e in self.gold})
        self.gold_fold = np.array(assign_folds(self.gold, 5, seed, "topic"))
        self.ann_fold = np.array(assign_folds(self.ann, 5, seed, "appeal"))


def fit_expert(folds: Folds, gold_idx: Sequence[int], ann_idx: Sequence[int], weight: float, word_cues: dict):
    """The expert on these gold messages and, at ``weight``, these annotations (none where the weight is 0)."""
    from nlp.convention import fit_convention
    from nlp.linear import LinearCompanion

    docs = [folds.gold_words[i] for i in gold_idx]
    topics = [folds.gold[i].topic for i in gold_idx]
    if not weight:
        return fit_convention(docs, topics, folds.labels, C=folds.cfg.linear_C, cues=folds.cues, word_cues=word_cues)
    docs += [folds.ann_words[i] for i in ann_idx]
    topics += [folds.ann[i].topic for i in ann_idx]
    weights = [1.0] * len(gold_idx) + [weight] * len(ann_idx)
    return LinearCompanion.fit(docs, {"topic": topics}, {"topic": folds.labels}, C=folds.cfg.linear_C, cues=folds.cues,
                               word_cues=word_cues, word_cue_max_df=1.0, sample_weight=weights)


def held_out(folds: Folds, weights: Sequence[float], nested: bool) -> dict[str, dict[str, np.ndarray]]:
    """Per variant ("a=0.1", …, "nested"), the held-out expert log-probabilities for gold and annotations."""
    from sklearn.model_selection import StratifiedKFold

    from nlp.convention import convention_logprobs
    from nlp.linear import WORD_CUE_MAX_DF
    from nlp.taxonomy import rare_cues

    variants = [f"a={w:g}" for w in weights] + (["nested"] if nested else [])
    out = {v: {"gold": np.zeros((len(folds.gold), len(folds.labels)), np.float32),
               "annot": np.zeros((len(folds.ann), len(folds.labels)), np.float32)} for v in variants}
    for k in range(5):
        train_gold = np.array([i for i in range(len(folds.gold)) if folds.gold_fold[i] != k])
        train_ann = [i for i in range(len(folds.ann)) if folds.ann_fold[i] != k]
        # word cues judged rare over the fold's training messages, as the fold's companion judges them
        texts = ["".join(folds.gold_words[i]) for i in train_gold] + ["".join(folds.ann_words[i]) for i in train_ann]
        word_cues = rare_cues(folds.word_cues, texts, WORD_CUE_MAX_DF)
        in_gold_topics = [i for i in train_ann if folds.ann[i].topic in folds.gold_topics]
        chosen = {f"a={w:g}": w for w in weights}
        if nested:
            chosen["nested"] = choose_weight(folds, train_gold, in_gold_topics, weights, word_cues,
                                             StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=folds.cfg.seed))
            print(f"fold {k + 1}: inner cross-validation chose annotation weight {chosen['nested']:g}", flush=True)
        for variant, weight in chosen.items():
            expert = fit_expert(folds, train_gold, in_gold_topics, weight, word_cues)
            for key, fold_of, words in (("gold", folds.gold_fold, folds.gold_words),
                                        ("annot", folds.ann_fold, folds.ann_words)):
                rows = np.where(fold_of == k)[0]
                out[variant][key][rows] = convention_logprobs(expert, [words[i] for i in rows])
    return out


def choose_weight(folds: Folds, train_gold: np.ndarray, ann_idx: list[int], weights: Sequence[float],
                  word_cues: dict, splitter) -> float:
    """The annotation weight with the best macro-F1 of the expert over an inner split of the fold's own gold."""
    from nlp.convention import convention_logprobs

    topics = np.array([folds.gold[i].topic for i in train_gold])
    best: tuple[float, float] | None = None
    for weight in weights:
        logits = np.zeros((len(train_gold), len(folds.labels)), np.float32)
        for fit_rows, test_rows in splitter.split(np.zeros(len(topics)), topics):
            expert = fit_expert(folds, train_gold[fit_rows], ann_idx, weight, word_cues)
            logits[test_rows] = convention_logprobs(expert, [folds.gold_words[i] for i in train_gold[test_rows]])
        score = scores(list(topics), folds.labels, logits)[1]
        if best is None or score > best[0] + 1e-9:
            best = (score, weight)
    return best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/gov_messages"))
    parser.add_argument("--model", type=Path, default=Path("nlp/models"))
    parser.add_argument("--weights", default=",".join(f"{w:g}" for w in ANNOTATION_WEIGHTS),
                        help="annotation weights to try, comma-separated (0 = the gold alone, as bundled)")
    parser.add_argument("--nested", action="store_true", help="also choose the weight inside each fold")
    parser.add_argument("--load", type=Path, help="held-out logits of bench/nlp_fusion.py --save: fused sweeps too")
    args = parser.parse_args()
    weights = [float(w) for w in args.weights.split(",") if w.strip()]

    folds = Folds(args.data, args.model)
    experts = held_out(folds, weights, args.nested)
    gold_truth = [e.topic for e in folds.gold]
    print("\nexpert alone on the held-out gold; acc / macro-F1")
    for variant, logp in experts.items():
        acc, f1 = scores(gold_truth, folds.labels, logp["gold"])
        print(f"  {variant:>8}{acc:9.4f}{f1:9.4f}")
    if not args.load:
        return
    from nlp.train import parse_logit_adjust

    z = np.load(args.load)
    tau = parse_logit_adjust(folds.cfg.logit_adjust).get("topic", 0.0)
    truth = {"gold": list(z["gold_truth_topic"]), "annot": list(z["annot_truth_topic"])}
    if truth["gold"] != gold_truth:
        raise SystemExit(f"{args.load} holds other gold messages than {args.data}")
    base = {key: fused(z[f"{key}_net_topic"], z[f"{key}_lin_topic"], z[f"{key}_shares_topic"],
                       folds.cfg.companion_weight, tau) for key in truth}
    print(f"\nnetwork + companion (weight {folds.cfg.companion_weight}, topic tau {tau}) + expert; acc / macro-F1")
    print(f"{'expert':>8}{'weight':>8}{'annotations':>22}{'gold':>22}")
    for variant, logp in experts.items():
        for weight in CONVENTION_WEIGHTS:
            row = f"{variant:>8}{weight:8.2f}"
            for key in ("annot", "gold"):
                acc, f1 = scores(truth[key], folds.labels, base[key] + weight * logp[key])
                row += f"{acc:11.4f}{f1:11.4f}"
            print(row)


if __name__ == "__main__":
    main()
