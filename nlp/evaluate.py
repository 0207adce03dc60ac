"""k-fold evaluation of the transformer next to the TF-IDF baseline, on folds training never saw.

Fold ``i`` trains on every gold message and annotation outside fold ``i`` and predicts fold
``i``; pooled over the folds, every labelled message is predicted exactly once by a model that
never saw it. Topic is scored on the gold messages (the bar) and on the annotations; sentiment
and appeal on the annotations (the gold set has topics only); risk flags on the annotations,
for the rules, the model and both together.
"""
from __future__ import annotations

import copy
import multiprocessing
import os
import random
import time
from concurrent.futures import ProcessPoolExecutor
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from nlp.corpus import Example
from nlp.labels import RISKS, SINGLE_LABEL

Log = Callable[[str], None]
Predictions = dict[str, list]  # head -> labels (risk: list of flag lists)
#: Key prefix of a contender's extra predictions by its network alone (without the linear companion).
NET_ONLY = "net:"


def assign_folds(examples: Sequence[Example], k: int, seed: int, key: str) -> list[int]:
    """Stratified fold numbers: members of each class dealt round-robin after a seeded shuffle."""
    rng = random.Random(seed)
    by_class: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        by_class.setdefault(str(getattr(e, key)), []).append(i)
    folds = [0] * len(examples)
    offset = 0
    for label in sorted(by_class):
        members = by_class[label]
        rng.shuffle(members)
        for j, i in enumerate(members):
            folds[i] = (offset + j) % k
        offset += len(members)
    return folds


@dataclass
class Scores:
    head: str
    labels: list[str]
    accuracy: float
    macro_f1: float
    per_class: dict[str, tuple[float, float, float, int]]
    confusion: list[list[int]]
    n: int

    def table(self) -> str:
        width = max(len(x) for x in self.labels) + 2
        lines = [f"{'class':<{width}} precision  recall    f1   support"]
        for lab in self.labels:
            p, r, f, s = self.per_class[lab]
            lines.append(f"{lab:<{width}} {p:9.3f} {r:7.3f} {f:6.3f} {s:8d}")
        lines.append(f"accuracy {self.accuracy:.4f}   macro-F1 {self.macro_f1:.4f}   n={self.n}")
        return "\n".join(lines)

    def confusion_text(self) -> str:
        short = [lab[:4] for lab in self.labels]
        lines = ["true \\ predicted  " + " ".join(f"{s:>5}" for s in short)]
        for lab, row in zip(self.labels, self.confusion):
            lines.append(f"{lab[:8]:<16} " + " ".join(f"{v:5d}" for v in row))
        return "\n".join(lines)


def score(head: str, truth: Sequence[str], predicted: Sequence[str]) -> Scores:
    """Macro-F1 over the classes that occur in ``truth`` (a wrong prediction into another class
    still costs recall); the confusion matrix also has columns for the other predicted classes."""
    labels = sorted(set(truth))
    cols = labels + sorted(set(predicted) - set(labels))
    p, r, f, s = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    cm = confusion_matrix(truth, predicted, labels=cols)[: len(labels)]
    return Scores(
        head=head, labels=labels, accuracy=float(accuracy_score(truth, predicted)),
        macro_f1=float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
        per_class={lab: (float(p[i]), float(r[i]), float(f[i]), int(s[i])) for i, lab in enumerate(labels)},
        confusion=[list(map(int, row)) for row in cm], n=len(truth),
    )


def risk_scores(truth: Sequence[list[str]], predicted: Sequence[list[str]]) -> dict[str, tuple[float, float, float, int]]:
    out = {}
    for flag in RISKS:
        tp = sum(flag in t and flag in p for t, p in zip(truth, predicted))
        fp = sum(flag not in t and flag in p for t, p in zip(truth, predicted))
        fn = sum(flag in t and flag not in p for t, p in zip(truth, predicted))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[flag] = (prec, rec, f1, tp + fn)
    return out


@dataclass
class CVResult:
    name: str
    gold: list[Example]
    annotations: list[Example]
    gold_pred: Predictions = field(default_factory=dict)
    annot_pred: Predictions = field(default_factory=dict)
    seconds: float = 0.0

    def scores(self) -> dict[str, Scores]:
        out = {"topic (gold)": score("topic", [e.topic for e in self.gold], self.gold_pred["topic"])}
        if self.annotations:
            for head in SINGLE_LABEL:
                out[f"{head} (annotations)"] = score(head, [getattr(e, head) for e in self.annotations],
                                                     self.annot_pred[head])
        return out


FitPredict = Callable[[list[Example], list[Example]], Predictions]


def cross_validate(name: str, gold: list[Example], annotations: list[Example], k: int, seed: int,
                   fit_predict: FitPredict, log: Log, jobs: int = 1) -> CVResult:
    """Fit and predict each fold; with ``jobs`` > 1 the folds run side by side in fresh processes.

    Parallel folds need a picklable ``fit_predict`` (a module-level callable object); each process
    gets an equal share of the cores, which a small model uses better than one process with all.
    """
    gold_folds = assign_folds(gold, k, seed, "topic")
    annot_folds = assign_folds(annotations, k, seed, "appeal")
    result = CVResult(name, gold, annotations)
    result.gold_pred = {h: [None] * len(gold) for h in (*SINGLE_LABEL, "risk")}
    result.annot_pred = {h: [None] * len(annotations) for h in (*SINGLE_LABEL, "risk")}
    started = time.monotonic()
    plans = []
    for fold in range(k):
        train = [e for e, f in zip(gold, gold_folds) if f != fold] + \
                [e for e, f in zip(annotations, annot_folds) if f != fold]
        test_gold = [i for i, f in enumerate(gold_folds) if f == fold]
        test_annot = [i for i, f in enumerate(annot_folds) if f == fold]
        log(f"[{name}] fold {fold + 1}/{k}: train {len(train)}, test {len(test_gold)} gold + {len(test_annot)} annotations")
        plans.append((train, [gold[i] for i in test_gold] + [annotations[i] for i in test_annot], test_gold, test_annot))
    if jobs > 1:
        threads = max(1, (os.cpu_count() or 1) // jobs)
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_limit_threads, initargs=(threads,)) as pool:
            futures = [pool.submit(fit_predict, train, tests) for train, tests, _, _ in plans]
            outputs = [f.result() for f in futures]
    else:
        outputs = [fit_predict(train, tests) for train, tests, _, _ in plans]
    for (_, _, test_gold, test_annot), pred in zip(plans, outputs):
        for head, values in pred.items():
            gold_pred = result.gold_pred.setdefault(head, [None] * len(gold))
            annot_pred = result.annot_pred.setdefault(head, [None] * len(annotations))
            for j, i in enumerate(test_gold):
                gold_pred[i] = values[j]
            for j, i in enumerate(test_annot):
                annot_pred[i] = values[len(test_gold) + j]
    result.seconds = time.monotonic() - started
    return result


def split_network_only(result: CVResult, name: str) -> CVResult | None:
    """The network-alone predictions a contender carried (``NET_ONLY`` keys) as a contender of their own."""
    heads = [h[len(NET_ONLY):] for h in result.gold_pred if h.startswith(NET_ONLY)]
    if not heads:
        return None
    alone = CVResult(name, result.gold, result.annotations, seconds=result.seconds)
    alone.gold_pred = {h: result.gold_pred.pop(NET_ONLY + h) for h in heads}
    alone.annot_pred = {h: result.annot_pred.pop(NET_ONLY + h) for h in heads}
    return alone


def _limit_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


# -- the two contenders ----------------------------------------------------------------------------
def baseline_fit_predict(C: float = 10.0) -> FitPredict:
    from nlp.baseline import TfidfBaseline

    cache: dict[str, list[str]] = {}

    def docs(examples: list[Example]) -> list[list[str]]:
        missing = [e for e in examples if e.id + e.source not in cache]
        for e, d in zip(missing, TfidfBaseline.features(missing)):
            cache[e.id + e.source] = d
        return [cache[e.id + e.source] for e in examples]

    def run(train: list[Example], test: list[Example]) -> Predictions:
        model = TfidfBaseline(C).fit(train, docs(train))
        return model.predict(test, docs(test))

    return run


class TransformerFitPredict:
    """Fine-tune fresh heads on the encoder for one fold and predict its test part (picklable, for parallel folds)."""

    def __init__(self, encoder_dir: Path, cfg, log: Log, risk_threshold: float = 0.5,
                 cues: dict[str, str] | None = None, word_cues: dict[str, str] | None = None):
        from nlp.train import encoder_meta

        self.encoder_dir, self.cfg, self.log, self.risk_threshold = Path(encoder_dir), cfg, log, risk_threshold
        self.cues = dict(cues or {})
        self.word_cues = dict(word_cues or {})
        self.meta = encoder_meta(self.encoder_dir, cfg)
        self.pair_cache: dict[str, tuple[str, ...]] = {}

    def __call__(self, train: list[Example], test: list[Example]) -> Predictions:
        from nlp.train import (attach_cue_input, finetune, fit_companion, fit_convention_expert, fresh_classifier,
                               seed_everything, set_logit_adjustment)

        seed_everything(self.cfg.seed)
        clf = fresh_classifier(self.encoder_dir, self.cfg, self.meta)
        for e in (*train, *test):
            key = e.id + e.source
            if key not in self.pair_cache:
                self.pair_cache[key] = clf.prepare(e.title, e.text)
        train_pairs = [self.pair_cache[e.id + e.source] for e in train]
        attach_cue_input(clf, train, self.cfg, self.log, pairs=train_pairs, cues=self.cues, word_cues=self.word_cues)
        finetune(clf, train, self.cfg, self.log, pairs=train_pairs)
        fit_companion(clf, train, self.cfg, self.log, pairs=train_pairs, cues=self.cues, word_cues=self.word_cues)
        fit_convention_expert(clf, train, self.cfg, self.log, pairs=train_pairs, cues=self.cues,
                              word_cues=self.word_cues)
        set_logit_adjustment(clf, train, self.cfg)
        test_pairs = [self.pair_cache[e.id + e.source] for e in test]
        net = clf.net_logits(test_pairs)
        preds = clf.predictions(clf.fuse(net, test_pairs))
        out = {
            "topic": [p.topic for p in preds], "sentiment": [p.sentiment for p in preds],
            "appeal": [p.appeal for p in preds],
            "risk": [[f for f, s in p.risk_scores.items() if s >= self.risk_threshold] for p in preds],
        }
        if clf.linear is not None:  # the network alone, so the report shows what the companion adds
            alone = clf.predictions(net)
            out.update({f"{NET_ONLY}{head}": [getattr(p, head) for p in alone] for head in SINGLE_LABEL})
        return out


def transformer_fit_predict(encoder_dir: Path, cfg, log: Log, risk_threshold: float = 0.5,
                            cues: dict[str, str] | None = None,
                            word_cues: dict[str, str] | None = None) -> FitPredict:
    return TransformerFitPredict(encoder_dir, cfg, log, risk_threshold, cues, word_cues)


def rules_risk(examples: Sequence[Example]) -> list[list[str]]:
    from nlp.risk import rule_flags

    return [rule_flags(f"{e.title}\n{e.text}") for e in examples]


def report(results: Sequence[CVResult], log: Log) -> dict:
    """Print every head's tables for each contender, then a side-by-side summary; returns the figures."""
    figures: dict = {}
    all_scores = {r.name: r.scores() for r in results}
    for r in results:
        log(f"\n=== {r.name} ({r.seconds:.0f} s) ===")
        for key, s in all_scores[r.name].items():
            log(f"\n--- {key} ---\n{s.table()}\n{s.confusion_text()}")
    log("\n=== summary (pooled over folds) ===")
    names = [r.name for r in results]
    log(f"{'head':<26}" + "".join(f"{n + ' acc':>22}{n + ' macroF1':>22}" for n in names))
    for key in all_scores[names[0]]:
        row = f"{key:<26}"
        for n in names:
            s = all_scores[n][key]
            row += f"{s.accuracy:22.4f}{s.macro_f1:22.4f}"
            figures.setdefault(n, {})[key] = {"accuracy": round(s.accuracy, 4), "macro_f1": round(s.macro_f1, 4)}
        log(row)
    return figures


def risk_report(annotations: Sequence[Example], model_flags: Sequence[list[str]] | None, log: Log) -> dict:
    truth = [e.risk or [] for e in annotations]
    variants = {"rules": rules_risk(annotations)}
    if model_flags is not None:
        variants["model"] = list(model_flags)
        variants["rules+model"] = [sorted(set(a) | set(b)) for a, b in zip(variants["rules"], model_flags)]
    out = {}
    log("\n=== risk flags on the annotations (precision / recall / F1 / support) ===")
    for name, pred in variants.items():
        sc = risk_scores(truth, pred)
        out[name] = {k: [round(x, 3) for x in v[:3]] + [v[3]] for k, v in sc.items()}
        log(f"{name:<12}" + "  ".join(f"{k} {p:.2f}/{r:.2f}/{f:.2f}/{s}" for k, (p, r, f, s) in sc.items()))
    return out


def clone(cfg):
    return copy.deepcopy(cfg)
