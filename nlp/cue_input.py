"""The network's cue input: per topic, how many taxonomy entries and rare taxonomy words a message names.

Why: the taxonomy's cues (``nlp.taxonomy``: 教师工资 is 教育文体, 邮政 is 交通运输) reached the model only through
the linear companion, while the network had to rediscover them from some 7,000 labels, and a cue that decides a
message is often one rare word the encoder's mean of token states dilutes. Fed to the topic head directly, as
log(1 + count) per topic through a linear layer that starts at zero and trains with the heads, they lifted the
network alone from 0.783 to 0.824 gold topic macro-F1 on the evaluation's folds (``nlp/models/README.md``).

The tables are the companion's: the same taxonomy entries and the word cues kept as rare (``WORD_CUE_MAX_DF``)
over the training messages, so a model directory stores them once (``topic_cues.tsv``, ``topic_word_cues.tsv``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from nlp.taxonomy import CUE_PREFIX, WORD_CUES_FILE, WORD_PREFIX, CueIndex, load_cues, rare_cues, save_cue_tables


class CueCounter:
    """Turns a message's text into ``2 x topics`` numbers: log(1 + entry cues of each topic), then the same for
    the word cues (each distinct cue counted once)."""

    def __init__(self, cues: Mapping[str, str], word_cues: Mapping[str, str], topics: Sequence[str]):
        self.cues = dict(cues)
        self.word_cues = dict(word_cues)
        self.topics = list(topics)
        self._column = {topic: k for k, topic in enumerate(self.topics)}
        self._indexes = [(CueIndex(self.cues, CUE_PREFIX), 0),
                         (CueIndex(self.word_cues, WORD_PREFIX), len(self.topics))]

    @property
    def width(self) -> int:
        return 2 * len(self.topics)

    @classmethod
    def fit(cls, cues: Mapping[str, str], word_cues: Mapping[str, str], texts: Sequence[str],
            topics: Sequence[str], max_share: float) -> CueCounter:
        """The counter of the training messages ``texts``: their word cues filtered by rarity as the companion
        filters them (``LinearCompanion.fit``), so both read one table."""
        return cls(cues, rare_cues(word_cues, list(texts), max_share) if word_cues else {}, topics)

    def counts(self, texts: Sequence[str]) -> torch.Tensor:
        """[messages, width] float32: log(1 + number of distinct cues of each topic) per table."""
        out = np.zeros((len(texts), self.width), np.float32)
        for row, text in enumerate(texts):
            for index, offset in self._indexes:
                for feature in index.features(text):
                    column = self._column.get(feature.split(":", 1)[1])
                    if column is not None:
                        out[row, offset + column] += 1
        return torch.from_numpy(np.log1p(out))

    def same_tables(self, cues: Mapping[str, str], word_cues: Mapping[str, str]) -> bool:
        return self.cues == dict(cues) and self.word_cues == dict(word_cues)

    def save(self, path: Path) -> None:
        """Write both tables into a model directory (where the companion keeps the same ones)."""
        save_cue_tables(path, self.cues, self.word_cues)

    @classmethod
    def load(cls, path: Path, topics: Sequence[str]) -> CueCounter:
        return cls(load_cues(path), load_cues(path, WORD_CUES_FILE), topics)
