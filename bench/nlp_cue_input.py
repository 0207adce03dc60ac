"""Experiment: the taxonomy cue counts as a direct input of the network's topic head (the bundled model has none).

Each message gets 30 numbers: log(1 + how many taxonomy entries of each of the 15 topics it names) and the same for
the rare taxonomy words (the companion's tables, rarity judged on the fold's training messages). A linear layer,
zero at the start and trained with the heads, adds them to the topic logits. The folds, seed and recipe are
``bench/nlp_fusion.py --save``'s, so the saved logits compare with its file and its sweep is printed at the end.

    OMP_NUM_THREADS=1 .venv/bin/python bench/nlp_cue_input.py --data ../shared/data/gov_messages --save /tmp/cues.npz
"""
from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))

import nlp_fusion  # noqa: E402
from nlp_fusion import LogitsFitPredict  # noqa: E402


def cue_matrix(texts: list[str], cues: dict[str, str], word_cues: dict[str, str], topics: list[str]):
    """[messages, 2 x topics]: log(1 + entry cues of each topic), then log(1 + word cues of each topic)."""
    import torch

    from nlp.linear import cue_indexes

    out = np.zeros((len(texts), 2 * len(topics)), np.float32)
    for row, text in enumerate(texts):
        for table, index in enumerate(cue_indexes(cues, word_cues)):
            for feature in index.features(text):
                out[row, table * len(topics) + topics.index(feature.split(":", 1)[1])] += 1
    return torch.from_numpy(np.log1p(out))


class CueFitPredict(LogitsFitPredict):
    """One fold as ``bench/nlp_fusion.py`` trains it, with the cue layer added to the network's topic head."""

    def extend(self, clf, train, pairs: dict) -> None:
        from torch import nn

        from nlp.labels import HEADS
        from nlp.linear import WORD_CUE_MAX_DF
        from nlp.taxonomy import rare_cues

        texts = {k: "".join(clf.companion_words(p)) for k, p in pairs.items()}
        word_cues = rare_cues(self.word_cues, [texts[e.id + e.source] for e in train], WORD_CUE_MAX_DF)
        topics = list(HEADS["topic"])
        keys = list(pairs)
        counts_of = cue_matrix([texts[k] for k in keys], self.cues, word_cues, topics)
        row = {id(pairs[k]): i for i, k in enumerate(keys)}
        # under ``wide.``, so fine-tuning gives it the heads' learning rate
        layer = clf.model.wide.cue = nn.Linear(2 * len(topics), len(topics))
        nn.init.zeros_(layer.weight)
        nn.init.zeros_(layer.bias)
        plain_encode, plain_forward = clf.encode, clf.forward

        def encode(_, batch):
            enc = plain_encode(batch)
            enc["cue_counts"] = counts_of[[row[id(p)] for p in batch]]
            return enc

        def forward(_, enc, device=None):
            out = plain_forward(enc, device)
            counts = enc["cue_counts"].to(device) if device is not None else enc["cue_counts"]
            out["topic"] = out["topic"] + layer(counts)
            return out

        clf.encode = types.MethodType(encode, clf)
        clf.forward = types.MethodType(forward, clf)

    def fine_tuned(self, clf) -> None:
        w = clf.model.wide.cue.weight.detach().numpy()
        n = w.shape[0]
        self.log(f"  cue layer |W| {np.abs(w).mean():.4f}, mean weight on its own topic: entries "
                 f"{np.diag(w[:, :n]).mean():.3f}, words {np.diag(w[:, n:]).mean():.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/gov_messages"))
    parser.add_argument("--model", type=Path, default=Path("nlp/models"))
    parser.add_argument("--save", type=Path, required=True, help="held-out logits (.npz), as bench/nlp_fusion.py --save")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    nlp_fusion.collect(args.data, args.model, args.jobs, args.save, fit_predict=CueFitPredict)
    nlp_fusion.sweep(args.save, args.model)


if __name__ == "__main__":
    main()
