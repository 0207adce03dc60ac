"""The convention expert: a linear model fitted on the gold messages alone, added to the fused topic logits.

Why: the gold labels (``labeled_topic.jsonl``, the message board's own filing, on which the topic bar is
measured) and the annotations (our reading of ``LABELS.md``) file some subjects differently: 住房公积金, 邮政,
特种设备 and 中介 follow the board's conventions in the gold and are split in the annotations. In the shared
models the 5,585 annotations of a fold outvote the 278 gold messages, and weighting the gold more does not help
(companion gold weight 10 instead of 4: gold topic macro-F1 0.835 -> 0.826 on the 5 folds). A TF-IDF regression
that sees only the gold learns its conventions alone (0.843 topic macro-F1 on the folds from 278 messages each); its
topic log-probabilities, added with a small weight (``TrainConfig.convention_weight``), move the prediction
towards the board's filing where the two models are close, and leave it where they are not.

Its cue tables are the companion's: the taxonomy entries, and the word cues the companion kept as rare over its
whole training set (``WORD_CUE_MAX_DF`` of some 6,000 messages). Judged on the 278 gold messages of a fold, the
same share keeps only words seen in at most two of them: the expert alone scored 0.796 topic macro-F1 on the 5 gold
folds so, 0.843 with the companion's table. Sharing the tables also lets one cue scan serve both models.

It scores only the topics the gold uses (7 of 15). The others get the mean of its log-probabilities, so it
neither backs nor vetoes a topic it never saw: a 政法 complaint keeps the shared models' verdict.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nlp.linear import UNSEEN_LOGIT, LinearCompanion

#: The expert's subdirectory of a model directory (a ``LinearCompanion`` of its own: weights, vocabulary, cues).
CONVENTION_DIR = "convention"
#: Whose labels it learns: the gold messages (not annotations, not analysts' corrections).
SOURCES = ("gold",)
HEAD = "topic"


def fit_convention(docs: Sequence[Sequence[str]], topics: Sequence[str], labels: Sequence[str], C: float,
                   cues: dict[str, str] | None = None,
                   word_cues: dict[str, str] | None = None) -> LinearCompanion | None:
    """The topic regression over the gold messages' words (and the taxonomy's cues: ``word_cues`` as the
    companion kept them, used whole); ``None`` where they hold fewer than two topics."""
    if len(set(topics)) < 2:
        return None
    expert = LinearCompanion.fit(docs, {HEAD: list(topics)}, {HEAD: labels}, C=C, cues=cues, word_cues=word_cues,
                                 word_cue_max_df=1.0)
    return expert if HEAD in expert.heads else None


def convention_logprobs(expert: LinearCompanion, docs: Sequence[Sequence[str]],
                        term_lists: Sequence[Sequence[str]] | None = None) -> np.ndarray:
    """Log-probabilities [documents, topics] over the topics the expert saw; each other topic gets the mean of
    the seen topics' log-probabilities (``term_lists``: the documents' terms where already counted by a model
    that reads them alike, see ``LinearCompanion.reads_like``)."""
    logits = expert.logits(docs, term_lists)[HEAD]
    seen = expert.heads[HEAD][1] > UNSEEN_LOGIT / 2
    scores = logits[:, seen]
    scores = scores - scores.max(axis=1, keepdims=True)
    logp = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    out = np.repeat(logp.mean(axis=1, keepdims=True), logits.shape[1], axis=1)
    out[:, seen] = logp
    return out.astype(np.float32)
