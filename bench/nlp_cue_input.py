"""Experiment: the taxonomy cue counts as a direct input of the network's topic head (the bundled model has none).

Each message gets 30 numbers: log(1 + how many taxonomy entries of each of the 15 topics it names) and the same for
the rare taxonomy words (the companion's tables, rarity judged on the fold's training messages). A linear layer,
zero at the start and trained with the heads, adds them to the topic logits. The folds, seed and recipe are
``bench/nlp_fusion.py --save``'s, so the saved logits compare with its file and its sweep is printed at the end.

    OMP_NUM_THREADS=1 .venv/bin/python bench/nlp_cue_input.py --data ../shared/data/gov_messages --save /tmp/cues.npz
"""
from __future__ import annotations
import sys
import types
from pathlib import Path
import numpy as np
import argparse
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import nlp_fusion  # noqa
from nlp_fusion import LogitsFitPredict, convention_out  # noqa


def cue_matrix(texts, cues, word_cues, topics):
    import torch

    from nlp.linear import cue_indexes
    idx = cue_indexes(cues, word_cues)
    out = np.zeros((len(texts), 2 * len(topics)), np.float32)
    for r, t in enumerate(texts):
        for j, index in enumerate(idx):
            for f in index.features(t):
                out[r, j * len(topics) + topics.index(f.split(":", 1)[1])] += 1
    return torch.from_numpy(np.log1p(out))


class CueFitPredict(LogitsFitPredict):
    """One fold as ``bench/nlp_fusion.py`` trains it, with the cue layer added to the network's topic head."""

    def __call__(self, train, test):
        from torch import nn

        from nlp.labels import HEADS, SINGLE_LABEL
        from nlp.linear import WORD_CUE_MAX_DF
        from nlp.taxonomy import rare_cues
        from nlp.train import class_shares, finetune, fit_companion, fresh_classifier, seed_everything

        seed_everything(self.cfg.seed)
        clf = fresh_classifier(self.encoder_dir, self.cfg, self.meta)
        pairs = {e.id + e.source: clf.prepare(e.title, e.text) for e in (*train, *test)}
        train_pairs = [pairs[e.id + e.source] for e in train]
        texts = {k: "".join(clf.companion_words(p)) for k, p in pairs.items()}
        wc = rare_cues(self.word_cues, [texts[e.id + e.source] for e in train], WORD_CUE_MAX_DF)
        topics = list(HEADS["topic"])
        keys = list(pairs)
        mat = cue_matrix([texts[k] for k in keys], self.cues, wc, topics)
        row = {id(pairs[k]): i for i, k in enumerate(keys)}
        clf.model.wide.cue = nn.Linear(2 * len(topics), len(topics))
        nn.init.zeros_(clf.model.wide.cue.weight); nn.init.zeros_(clf.model.wide.cue.bias)
        orig_encode, orig_forward = clf.encode, clf.forward

        def encode(self_, batch):
            enc = orig_encode(batch)
            enc["cue_counts"] = mat[[row[id(p)] for p in batch]]
            return enc

        def forward(self_, enc, device=None):
            out = orig_forward(enc, device)
            counts = enc["cue_counts"].to(device) if device is not None else enc["cue_counts"]
            out["topic"] = out["topic"] + clf.model.wide.cue(counts)
            return out
        clf.encode = types.MethodType(encode, clf); clf.forward = types.MethodType(forward, clf)
        finetune(clf, train, self.cfg, self.log, pairs=train_pairs)
        w = clf.model.wide.cue.weight.detach().numpy()
        self.log(f"  cue layer |W| {np.abs(w).mean():.4f}, diag entries {np.diag(w[:, :15]).mean():.3f} / {np.diag(w[:, 15:]).mean():.3f}")
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


def main():
    from nlp import corpus
    from nlp.cli import _topic_cues
    from nlp.evaluate import cross_validate
    from nlp.labels import SINGLE_LABEL
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/gov_messages"))
    parser.add_argument("--model", type=Path, default=Path("nlp/models"))
    parser.add_argument("--save", type=Path, required=True, help="held-out logits (.npz), as bench/nlp_fusion.py --save")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    data, model, save = args.data, args.model, args.save
    cfg = nlp_fusion._config(model, None, None)
    gold, ann = corpus.load_gold(data), corpus.load_annotations(data)
    cues, words = _topic_cues(data, cfg)
    run = CueFitPredict(model / "pretrained", cfg, print, cues=cues, word_cues=words)
    result = cross_validate("cue-input", gold, ann, 5, cfg.seed, run, print, args.jobs)
    arrays = {f"gold_{k}": np.stack(v) for k, v in result.gold_pred.items() if v and v[0] is not None}
    arrays.update({f"annot_{k}": np.stack(v) for k, v in result.annot_pred.items() if v and v[0] is not None})
    arrays["gold_truth_topic"] = np.array([e.topic for e in gold])
    for head in SINGLE_LABEL:
        arrays[f"annot_truth_{head}"] = np.array([getattr(e, head) for e in ann])
    np.savez_compressed(save, **arrays)
    print(f"saved {save} ({result.seconds:.0f} s of folds)")
    nlp_fusion.sweep(save, model)


if __name__ == "__main__":
    main()
