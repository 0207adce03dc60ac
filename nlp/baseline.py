"""The TF-IDF + logistic-regression baseline the transformer is measured against (same folds, same tokens)."""
from __future__ import annotations

from collections.abc import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from nlp.corpus import Example
from nlp.labels import SINGLE_LABEL
from nlp.segment import tokenize


def _identity(tokens: list[str]) -> list[str]:
    return tokens


class TfidfBaseline:
    """One TF-IDF (word uni- and bi-grams over jieba tokens) and one logistic regression per head.

    Classes are weighted inversely to their frequency, as the transformer's loss is: without it
    the baseline predicts 城乡建设 for most gold messages and loses ten points of macro-F1.
    """

    def __init__(self, C: float = 10.0, class_weight: str | None = "balanced"):
        self.C = C
        self.class_weight = class_weight
        self.vectorizer = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, min_df=2, ngram_range=(1, 1))
        self.models: dict[str, LogisticRegression] = {}

    @staticmethod
    def features(examples: Sequence[Example]) -> list[list[str]]:
        out = []
        for e in examples:
            words = tokenize(e.title) + tokenize(e.text)
            out.append(words + [f"{a}_{b}" for a, b in zip(words, words[1:])])
        return out

    def fit(self, examples: Sequence[Example], docs: list[list[str]] | None = None) -> TfidfBaseline:
        matrix = self.vectorizer.fit_transform(docs if docs is not None else self.features(examples))
        for head in SINGLE_LABEL:
            rows = [i for i, e in enumerate(examples) if getattr(e, head)]
            labels = [getattr(examples[i], head) for i in rows]
            if len(set(labels)) < 2:
                continue
            model = LogisticRegression(C=self.C, max_iter=3000, class_weight=self.class_weight)
            self.models[head] = model.fit(matrix[rows], labels)
        return self

    def predict(self, examples: Sequence[Example], docs: list[list[str]] | None = None) -> dict[str, list[str]]:
        matrix = self.vectorizer.transform(docs if docs is not None else self.features(examples))
        return {head: list(model.predict(matrix)) for head, model in self.models.items()}
