"""The pure-function API the other packages use: ``analyse(title, text) -> Analysis``.

One call cleans the text, segments it once (the same tokens go to the search index, the
classifier, keywords and the fingerprint), classifies it, flags risks, extracts keywords,
places and organisations, and decides whether an analyst should review the prediction.
``analyse_many`` does the same for a batch (the classifier runs batched: use it for bulk work).
Nothing here touches the database.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from nlp import entities, keywords, risk, segment, simhash
from nlp.classifier import Classifier, Prediction, get_classifier
from nlp.text import clean


def review_thresholds() -> dict[str, float]:
    """Per head, the probability below which a prediction goes to the analysts' review queue.

    Settings (``MINSHENG_REVIEW_TOPIC_BELOW`` and the like), because the queue's length against the errors it
    catches is a site's choice: on held-out messages the defaults (0.5 / 0.6 / 0.45) queue about 43 % and catch
    78 % of the topic errors; 0.4 / 0.55 / 0.4 queue 30 % and catch 63 % (``bench/nlp_fusion.py --review``, table in
    docs/nlp.md).
    """
    from core.settings import get_settings

    s = get_settings()
    return {"topic": s.review_topic_below, "sentiment": s.review_sentiment_below, "appeal": s.review_appeal_below}


#: Text beyond this many characters is not classified (the head and tail are), only indexed.
MAX_TOKENS_INDEXED = 20_000


@dataclass
class Analysis:
    tokens: list[str]
    title_tokens: list[str]
    topic: str | None
    topic_score: float | None
    topic_scores: dict[str, float] | None
    sentiment: str | None
    sentiment_score: float | None
    appeal: str | None
    appeal_score: float | None
    risk: list[str]
    risk_reasons: dict[str, str]
    keywords: list[str]
    places: list[str]
    organisations: list[str]
    simhash: int  # unsigned 64-bit
    needs_review: bool
    review_reasons: list[str] = field(default_factory=list)

    @property
    def simhash_hex(self) -> str:
        return simhash.to_hex(self.simhash)

    @property
    def simhash_signed(self) -> int:
        return simhash.to_signed(self.simhash)

    @property
    def bands(self) -> tuple[int, int, int, int]:
        return simhash.bands(self.simhash)

    @property
    def has_risk(self) -> bool:
        return bool(self.risk)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["simhash"] = self.simhash_hex
        return out


@dataclass
class _Prepared:
    title_tokens: list[str]
    tokens: list[str]
    tagged: list[tuple[str, str]]
    text: str


def _prepare(title: str, text: str) -> _Prepared:
    title_c, text_c = clean(title, 500), clean(text)
    tagged = segment.tag(f"{title_c}\n{text_c}" if title_c else text_c, cleaned=True)
    return _Prepared(segment.tokenize(title_c, cleaned=True), segment.tokenize(text_c, cleaned=True), tagged,
                     f"{title_c}\n{text_c}")


def _review_reasons(pred: Prediction | None) -> list[str]:
    if pred is None:
        return ["empty"]
    reasons = []
    for head, limit in review_thresholds().items():
        if getattr(pred, f"{head}_score") < limit:
            reasons.append(f"low_{head}")
    return reasons


def _build(prep: _Prepared, pred: Prediction | None) -> Analysis:
    matches = risk.rule_matches(prep.text)
    flags = risk.flags(prep.text, pred.risk_scores if pred else None)
    reasons = _review_reasons(pred)
    return Analysis(
        tokens=prep.tokens[:MAX_TOKENS_INDEXED],
        title_tokens=prep.title_tokens,
        topic=pred.topic if pred else None,
        topic_score=round(pred.topic_score, 4) if pred else None,
        topic_scores=pred.topic_scores if pred else None,
        sentiment=pred.sentiment if pred else None,
        sentiment_score=round(pred.sentiment_score, 4) if pred else None,
        appeal=pred.appeal if pred else None,
        appeal_score=round(pred.appeal_score, 4) if pred else None,
        risk=flags,
        risk_reasons={f: matches.get(f, "model") for f in flags},
        keywords=keywords.keywords(prep.tagged),
        places=entities.places(prep.tagged),
        organisations=entities.organisations(prep.tagged),
        simhash=simhash.fingerprint(prep.title_tokens + prep.tokens),
        needs_review=bool(reasons),
        review_reasons=reasons,
    )


def analyse_many(items: Sequence[tuple[str, str]], classifier: Classifier | None = None,
                 batch_size: int = 64) -> list[Analysis]:
    """Analyse ``(title, text)`` pairs; the classifier sees them in batches."""
    prepared = [_prepare(t or "", x or "") for t, x in items]
    todo = [i for i, p in enumerate(prepared) if p.tokens or p.title_tokens]
    preds: dict[int, Prediction] = {}
    if todo:
        clf = classifier or get_classifier()
        pairs = [clf.prepare("", "", prepared[i].title_tokens, prepared[i].tokens) if clf.pre_tokenize == "jieba"
                 else clf.prepare(clean(items[i][0] or "", 500), clean(items[i][1] or "")) for i in todo]
        for i, pred in zip(todo, clf.predict_pairs(pairs, batch_size)):
            preds[i] = pred
    return [_build(p, preds.get(i)) for i, p in enumerate(prepared)]


def analyse(title: str, text: str, classifier: Classifier | None = None) -> Analysis:
    """Analyse one message (see :func:`analyse_many` for bulk work)."""
    return analyse_many([(title, text)], classifier)[0]


def analyse_text(title: str, text: str) -> Analysis:
    """Everything but the classifier: tokens, keywords, places, organisations, rule risk flags, fingerprint.

    For consumers that must work on documents the NLP stage has not reached yet (a replay of old
    rows, a trends backtest) without loading the model; labels are ``None`` and nothing is queued
    for review.
    """
    analysis = _build(_prepare(title or "", text or ""), None)
    analysis.needs_review, analysis.review_reasons = False, []
    return analysis


def warm() -> None:
    """Load dictionaries and the model now (worker start-up, before forking)."""
    segment.warm()
    keywords.idf_table()
    get_classifier()
