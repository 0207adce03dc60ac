"""The classifier's linear companion: TF-IDF over jieba words and word bigrams, one logistic regression per head.

Why: on these few thousand labels the encoder and a linear model over word n-grams make different mistakes
(the encoder generalises across wordings, the linear model keeps every deciding word such as 举报 or 请问 as its
own feature, over the whole message where the encoder reads 128 pieces). The classifier averages the two
models' log-probabilities per head (a product of experts with equal weights, fixed before any evaluation).
The companion is fitted by ``minsheng train`` on the same labelled messages as the heads, with scikit-learn,
and stored as plain arrays (``linear.safetensors`` and ``linear_vocab.txt``): no pickles in a model directory.
Inference is a sparse product in NumPy/SciPy; scikit-learn is needed only to fit.

With a cue table (``nlp.taxonomy``) each message also gets a feature per taxonomy entry it names, carrying that
entry's topic, so the regression learns the taxonomy's rules (教师工资 is 教育文体) next to the words; with a word
cue table, a feature per rare taxonomy word (邮政, 直销, 计生) as well.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

if TYPE_CHECKING:
    from nlp.taxonomy import CueIndex

WEIGHTS_FILE = "linear.safetensors"
VOCAB_FILE = "linear_vocab.txt"
#: How often a cue feature is counted: with sublinear tf it weighs 1 + ln 3 (about 2.1) times a word seen once.
#: On the 5 gold folds of the companion alone (TF-IDF + LR over words and pairs): no cues 0.787, cues counted
#: once 0.801, three times 0.825 topic macro-F1 (a choice made on those folds; see the model card).
CUE_REPEAT = 3
#: A word cue counts only where at most this share of the training messages contain it. On the 5 gold folds of
#: the companion alone (topic macro-F1 gold / annotations): entries only 0.812 / 0.644; word cues at most 1 %
#: 0.840 / 0.654, at most 5 % 0.842 / 0.651, all 0.831 / 0.654 (counted three times, as the entries are).
WORD_CUE_MAX_DF = 0.01
#: The logit a class gets when the companion never saw it in training (it then never backs that class).
UNSEEN_LOGIT = -30.0


def ngrams(words: Sequence[str]) -> list[str]:
    """Words and adjacent word pairs, as the TF-IDF baseline reads a message."""
    return list(words) + [f"{a}_{b}" for a, b in zip(words, words[1:])]


def _identity(doc: list[str]) -> list[str]:
    return doc


def cue_indexes(cues: dict[str, str] | None, word_cues: dict[str, str] | None) -> list[CueIndex]:
    """The scanners of the entry and word cue tables that are not empty."""
    from nlp.taxonomy import WORD_PREFIX, CueIndex

    return ([CueIndex(cues)] if cues else []) + ([CueIndex(word_cues, WORD_PREFIX)] if word_cues else [])


def terms(words: Sequence[str], indexes: Sequence[CueIndex] = (), repeat: int = CUE_REPEAT) -> list[str]:
    """What the companion counts in a message: its words and word pairs, and the features of the taxonomy cues
    it contains (``cue_indexes``) ``repeat`` times each."""
    out = ngrams(words)
    if indexes:
        text = "".join(words)
        for index in indexes:
            out.extend(index.features(text) * repeat)
    return out


class LinearCompanion:
    """Per-head weights over a TF-IDF vocabulary (sublinear tf, smoothed idf, L2-normalised rows)."""

    def __init__(self, vocab: list[str], idf: np.ndarray, heads: dict[str, tuple[np.ndarray, np.ndarray]],
                 C: float, cues: dict[str, str] | None = None, cue_repeat: int = CUE_REPEAT,
                 word_cues: dict[str, str] | None = None):
        self.vocab = vocab
        #: taxonomy entry -> topic (``nlp.taxonomy``); empty: words only
        self.cues = dict(cues or {})
        #: rare taxonomy word -> topic (already filtered by ``WORD_CUE_MAX_DF``); empty: none
        self.word_cues = dict(word_cues or {})
        self._indexes = cue_indexes(self.cues, self.word_cues)
        self.cue_repeat = cue_repeat
        self.index = {term: i for i, term in enumerate(vocab)}
        self.idf = idf.astype(np.float32)
        #: head -> (weights [features, classes], bias [classes]) in the classifier's label order
        self.heads = heads
        self.C = C

    # -- fitting ------------------------------------------------------------------------------
    @classmethod
    def fit(cls, docs: Sequence[Sequence[str]], targets: dict[str, list[str | None]],
            labels: dict[str, Sequence[str]], C: float = 10.0, min_df: int = 2,
            cues: dict[str, str] | None = None, cue_repeat: int = CUE_REPEAT,
            sample_weight: Sequence[float] | None = None, word_cues: dict[str, str] | None = None,
            word_cue_max_df: float = WORD_CUE_MAX_DF) -> LinearCompanion:
        """Fit on word lists (one per message) and, per head, a label or ``None`` per message (``cues``: the
        taxonomy cue table, whose features join the words; ``word_cues``: the taxonomy's word cues, of which those
        in at most ``word_cue_max_df`` of these messages are kept; ``sample_weight``: one weight per message).

        Classes are weighted inversely to their frequency (as the baseline's are), so 城乡建设, 40 % of the
        labels, does not swallow the small topics. scikit-learn counts a class by its messages' weights, so a
        sample weight shifts emphasis within a class (its gold messages over its annotations), not between classes.
        """
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        if word_cues:
            from nlp.taxonomy import rare_cues

            word_cues = rare_cues(word_cues, ["".join(d) for d in docs], word_cue_max_df)
        indexes = cue_indexes(cues, word_cues)
        vectorizer = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, min_df=min_df)
        matrix = vectorizer.fit_transform([terms(d, indexes, cue_repeat) for d in docs])
        vocab = [""] * len(vectorizer.vocabulary_)
        for term, i in vectorizer.vocabulary_.items():
            vocab[i] = term
        heads: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for head, names in labels.items():
            rows = [i for i, y in enumerate(targets.get(head, [])) if y]
            seen = sorted({targets[head][i] for i in rows})
            if len(seen) < 2:
                continue
            model = LogisticRegression(C=C, max_iter=3000, class_weight="balanced")
            weights_of_rows = None
            if sample_weight is not None and any(w != 1.0 for w in sample_weight):
                weights_of_rows = np.asarray([sample_weight[i] for i in rows], dtype=np.float64)
            model.fit(matrix[rows], [targets[head][i] for i in rows], sample_weight=weights_of_rows)
            coef, bias = model.coef_, model.intercept_
            if len(model.classes_) == 2:  # binary: p(second) = sigmoid(w.x + b), i.e. logits (0, w.x + b)
                coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
                bias = np.array([0.0, bias[0]])
            weights = np.zeros((len(vocab), len(names)), dtype=np.float32)
            biases = np.full(len(names), UNSEEN_LOGIT, dtype=np.float32)
            for k, name in enumerate(model.classes_):
                j = list(names).index(name)
                weights[:, j] = coef[k]
                biases[j] = bias[k]
            heads[head] = (weights, biases)
        return cls(vocab, vectorizer.idf_, heads, C, cues, cue_repeat, word_cues)

    # -- inference ----------------------------------------------------------------------------
    def term_lists(self, docs: Sequence[Sequence[str]]) -> list[list[str]]:
        """What this model counts in each word list (:func:`terms` with its cue tables)."""
        return [terms(doc, self._indexes, self.cue_repeat) for doc in docs]

    def reads_like(self, other: LinearCompanion) -> bool:
        """Whether ``other`` counts the same terms in a message (same cue tables, same repeat), so that one
        :meth:`term_lists` serves both."""
        return (self.cues == other.cues and self.word_cues == other.word_cues
                and self.cue_repeat == other.cue_repeat)

    def matrix(self, docs: Sequence[Sequence[str]],
               term_lists: Sequence[Sequence[str]] | None = None) -> sparse.csr_matrix:
        """The TF-IDF rows of word lists (terms outside the vocabulary are dropped, as scikit-learn does);
        ``term_lists``: their :meth:`term_lists` where already made."""
        indptr, indices, values = [0], [], []
        for doc_terms in (term_lists if term_lists is not None else self.term_lists(docs)):
            counts: dict[int, int] = {}
            for term in doc_terms:
                i = self.index.get(term)
                if i is not None:
                    counts[i] = counts.get(i, 0) + 1
            row = [(i, (1.0 + math.log(c)) * float(self.idf[i])) for i, c in counts.items()]
            norm = math.sqrt(sum(v * v for _, v in row)) or 1.0
            indices.extend(i for i, _ in row)
            values.extend(v / norm for _, v in row)
            indptr.append(len(indices))
        return sparse.csr_matrix((np.asarray(values, dtype=np.float32), np.asarray(indices, dtype=np.int64),
                                  np.asarray(indptr, dtype=np.int64)), shape=(len(indptr) - 1, len(self.vocab)))

    def logits(self, docs: Sequence[Sequence[str]],
               term_lists: Sequence[Sequence[str]] | None = None) -> dict[str, np.ndarray]:
        """Per head, the regression's logits [documents, classes] in the classifier's label order."""
        rows = self.matrix(docs, term_lists)
        return {head: np.asarray(rows @ w) + b for head, (w, b) in self.heads.items()}

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        from safetensors.numpy import save_file

        from nlp.taxonomy import save_cue_tables

        tensors = {"idf": self.idf, "C": np.array([self.C], dtype=np.float32),
                   "cue_repeat": np.array([self.cue_repeat], dtype=np.float32)}
        for head, (w, b) in self.heads.items():
            tensors[f"{head}.weight"] = w.astype(np.float16)  # 3-4 MB instead of 7; logits move by ~1e-3
            tensors[f"{head}.bias"] = b.astype(np.float32)
        save_file(tensors, str(Path(path) / WEIGHTS_FILE))
        (Path(path) / VOCAB_FILE).write_text("\n".join(self.vocab) + "\n", encoding="utf-8")
        save_cue_tables(path, self.cues, self.word_cues)

    @classmethod
    def load(cls, path: Path) -> LinearCompanion | None:
        """The companion saved in a model directory, or ``None`` where it has none."""
        from safetensors.numpy import load_file

        path = Path(path)
        if not (path / WEIGHTS_FILE).is_file():
            return None
        state = load_file(str(path / WEIGHTS_FILE))
        vocab = (path / VOCAB_FILE).read_text(encoding="utf-8").split("\n")[: len(state["idf"])]
        heads = {key.rsplit(".", 1)[0]: (state[key].astype(np.float32), state[key[: -len("weight")] + "bias"])
                 for key in state if key.endswith(".weight")}
        from nlp.taxonomy import WORD_CUES_FILE, load_cues

        repeat = int(state["cue_repeat"][0]) if "cue_repeat" in state else CUE_REPEAT
        return cls(vocab, state["idf"], heads, float(state["C"][0]), load_cues(path), repeat,
                   load_cues(path, WORD_CUES_FILE))
