"""The topic / sentiment / appeal (and risk) classifier: one transformer encoder, four linear heads.

A model directory is an ordinary Hugging Face encoder directory (``config.json``,
``model.safetensors``, tokenizer files; loadable with ``AutoModel``/``AutoTokenizer``) plus
``heads.safetensors`` (the four heads) and ``minsheng.json`` (label names, input length, how
the input is pre-tokenised). The bundled model is a small BERT over jieba words trained by
``minsheng train``; ``minsheng train --encoder DIR`` puts the heads on any local Hugging Face
encoder (a Chinese RoBERTa, say) and ``MINSHENG_MODEL_DIR`` points the application at it.

The model is loaded once per process (:func:`get_classifier`, thread-safe) and used for
inference only; batches are sorted by length so padding stays small.
"""
from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from nlp.labels import HEADS, SINGLE_LABEL

if TYPE_CHECKING:
    from nlp.cue_input import CueCounter
    from nlp.linear import LinearCompanion

log = logging.getLogger("minsheng.nlp")

BUNDLED_DIR = Path(__file__).parent / "models"
META_FILE = "minsheng.json"
HEADS_FILE = "heads.safetensors"
#: Key prefix of the wide path's weights in ``HEADS_FILE`` (no head is called so).
WIDE_KEY = "_wide"
#: Key prefix of the cue input layer's weights in ``HEADS_FILE``.
CUE_KEY = "_cue"
FORMAT = 1
#: Share of the body budget kept from the start of a long message; the rest comes from its end,
#: where writers put their request ("take the one the writer's last request asks for"). A model stores
#: its own (``head_share`` in ``minsheng.json``); this is the value of models that store none.
HEAD_SHARE = 0.7
TITLE_MAX = 32
#: Words of a message the wide path's bag reads: the whole of nearly every message, where the encoder
#: sees ``max_length`` pieces (half the messages are longer than 128).
WIDE_MAX_WORDS = 1000


class ModelDirError(RuntimeError):
    """The model directory is missing or is not a Minsheng classifier."""


@dataclass
class Prediction:
    topic: str
    topic_score: float
    topic_scores: dict[str, float]
    sentiment: str
    sentiment_score: float
    appeal: str
    appeal_score: float
    risk_scores: dict[str, float]


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


def max_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per feature, its largest value over the real (unpadded) tokens."""
    padded = ~mask.bool().unsqueeze(-1)
    return hidden.masked_fill(padded, torch.finfo(hidden.dtype).min).amax(1)


#: How the heads read the token states: ``mean`` of all of them, or ``mean+title``: that mean beside the mean of
#: the title's (the first segment; the first token where the tokenizer marks no segments). A title carries the
#: kind of request (咨询…, 举报…, 建议…) in a few words that a mean over a long body dilutes. ``mean+max``: the
#: mean beside the per-feature maximum, which keeps a single cue word (举报, 请问) visible wherever it stands.
POOLINGS = ("mean", "mean+title", "mean+max")


def title_mask(attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None) -> torch.Tensor:
    if token_type_ids is None:
        first = torch.zeros_like(attention_mask)
        first[:, 0] = 1
        return first
    return attention_mask * (token_type_ids == 0).to(attention_mask.dtype)


#: Multiplier of the bigram hash over word-piece ids (any odd number well above the vocabulary size).
BIGRAM_PRIME = 1_000_003


class WidePath(nn.Module):
    """A linear layer over the input's bag of word pieces and hashed word-piece bigrams, added to the heads' logits.

    Why: the encoder's mean of token states blurs the few words that decide a label (咨询, 举报, 建议 in a title);
    a bag of n-grams keeps each of them as its own feature, as the TF-IDF baseline does. Trained jointly with the
    encoder ("wide and deep"); starts at zero so it only adds what the encoder lacks. The bag is the model's own
    input ids (no second tokenisation), L2-normalised like a TF-IDF row.
    """

    def __init__(self, vocab_size: int, buckets: int, outputs: int):
        super().__init__()
        self.vocab_size = vocab_size
        self.buckets = buckets
        self.pad = vocab_size + buckets
        self.bag = nn.EmbeddingBag(self.pad + 1, outputs, mode="sum", padding_idx=self.pad)
        nn.init.zeros_(self.bag.weight)

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        valid = attention_mask.bool()
        unigrams = input_ids.masked_fill(~valid, self.pad)
        pair_valid = valid[:, :-1] & valid[:, 1:]
        bigrams = self.vocab_size + (input_ids[:, :-1] * BIGRAM_PRIME + input_ids[:, 1:]) % self.buckets
        return torch.cat([unigrams, bigrams.masked_fill(~pair_valid, self.pad)], 1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        feats = self.features(input_ids, attention_mask)
        count = (feats != self.pad).sum(1, keepdim=True).clamp(min=1).to(self.bag.weight.dtype)
        return self.bag(feats) / count.sqrt()


class MultiHead(nn.Module):
    """Encoder + dropout + one linear layer per head over the pooled token states (see ``POOLINGS``),
    plus, when ``wide_buckets`` > 0, a :class:`WidePath` over the input's word pieces and bigrams, and, once
    :meth:`add_cue_input` is called, a linear layer from the taxonomy cue counts (``nlp.cue_input``) to the topic."""

    def __init__(self, encoder: nn.Module, labels: dict[str, Sequence[str]], dropout: float = 0.1,
                 pooling: str = "mean", wide_buckets: int = 0):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; one of {', '.join(POOLINGS)}")
        if wide_buckets < 0:
            raise ValueError(f"wide_buckets must be 0 (no wide path) or positive, not {wide_buckets}")
        self.encoder = encoder
        self.pooling = pooling
        self.labels = {k: list(v) for k, v in labels.items()}
        width = encoder.config.hidden_size * (1 if pooling == "mean" else 2)
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({name: nn.Linear(width, len(classes)) for name, classes in self.labels.items()})
        self.wide_buckets = wide_buckets
        self.wide = (WidePath(encoder.config.vocab_size, wide_buckets, sum(len(c) for c in self.labels.values()))
                     if wide_buckets else None)
        self.cue: nn.Linear | None = None

    def add_cue_input(self, width: int) -> nn.Linear:
        """The cue input layer (``width`` counts to the topic logits), at zero so it only adds what the rest lacks."""
        self.cue = nn.Linear(width, len(self.labels["topic"]))
        nn.init.zeros_(self.cue.weight)
        nn.init.zeros_(self.cue.bias)
        return self.cue

    def forward(self, input_ids, attention_mask, token_type_ids=None, wide_ids=None,
                wide_mask=None, cue_counts=None) -> dict[str, torch.Tensor]:
        """Logits per head; the wide path reads ``wide_ids`` (the whole message) when given, else ``input_ids``;
        the cue layer reads ``cue_counts`` where it exists and they are given."""
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None and getattr(self.encoder.config, "type_vocab_size", 0) > 1:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state
        pooled = mean_pool(hidden, attention_mask)
        if self.pooling == "mean+title":
            pooled = torch.cat([pooled, mean_pool(hidden, title_mask(attention_mask, token_type_ids))], -1)
        elif self.pooling == "mean+max":
            pooled = torch.cat([pooled, max_pool(hidden, attention_mask)], -1)
        pooled = self.dropout(pooled)
        out = {name: head(pooled) for name, head in self.heads.items()}
        if self.wide is not None:
            bag = self.wide(input_ids, attention_mask) if wide_ids is None else self.wide(wide_ids, wide_mask)
            parts = bag.split([len(c) for c in self.labels.values()], -1)
            out = {name: out[name] + part.to(out[name].dtype) for name, part in zip(self.labels, parts)}
        if self.cue is not None and cue_counts is not None:
            out["topic"] = out["topic"] + self.cue(cue_counts.to(self.cue.weight.dtype)).to(out["topic"].dtype)
        return out


def _quiet() -> None:
    """No progress bars from ``transformers`` (a worker's log is no terminal)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def load_encoder(path: Path, dtype: torch.dtype = torch.float32):
    """A Hugging Face encoder without its pooler (the heads read the mean of the token states)."""
    from transformers import AutoModel

    _quiet()
    try:
        return AutoModel.from_pretrained(str(path), add_pooling_layer=False, dtype=dtype)
    except TypeError:  # encoders without a pooling layer argument
        return AutoModel.from_pretrained(str(path), dtype=dtype)


def load_tokenizer(path: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def head_tail(items: list, budget: int, head_share: float = HEAD_SHARE) -> list:
    """Keep the start and the end of a long sequence: ``head_share`` of ``budget`` from the start."""
    if len(items) <= budget:
        return items
    head = int(budget * head_share)
    return items[:head] + items[len(items) - (budget - head):]


class Classifier:
    """A loaded model directory: tokenizer, network and label names; inference only."""

    def __init__(self, tokenizer, model: MultiHead, meta: dict, path: Path | None = None):
        self.tokenizer = tokenizer
        self.model = model.eval()
        self.meta = meta
        self.path = path
        self.max_length = int(meta.get("max_length", 128))
        self.pre_tokenize = meta.get("pre_tokenize", "jieba")
        self.head_share = float(meta.get("head_share", HEAD_SHARE))
        #: the linear companion (``nlp.linear``) whose log-probabilities are averaged with the network's
        self.linear: LinearCompanion | None = None
        #: the convention expert (``nlp.convention``), fitted on the gold alone, added to the topic logits
        self.convention: LinearCompanion | None = None
        #: what turns a message into the cue layer's input (``nlp.cue_input``), where the network has that layer
        self.cue_counter: CueCounter | None = None

    @property
    def reads_whole_message(self) -> bool:
        """Whether :meth:`prepare` adds the whole message (for the wide path or the linear companion)."""
        return self.model.wide is not None or self.linear is not None or bool(self.meta.get("linear_C"))

    # -- inputs -------------------------------------------------------------------------------
    def prepare(self, title: str, body: str, title_tokens: list[str] | None = None,
                body_tokens: list[str] | None = None) -> tuple[str, ...]:
        """The (first, second) strings the tokenizer receives, already cut to fit ``max_length``; with a
        wide path, a third: the title and body as the wide path's bag reads them (``WIDE_MAX_WORDS``)."""
        wide = self.reads_whole_message
        if self.pre_tokenize == "jieba":
            from nlp.segment import tokenize

            t = (title_tokens if title_tokens is not None else tokenize(title))[:TITLE_MAX]
            full = body_tokens if body_tokens is not None else tokenize(body)
            b = head_tail(full, max(8, self.max_length - 3 - len(t)), self.head_share)
            pair = (" ".join(t), " ".join(b))
            return (*pair, " ".join(t + head_tail(full, WIDE_MAX_WORDS, self.head_share))) if wide else pair
        t = (title or "")[: TITLE_MAX * 2]
        pair = (t, "".join(head_tail(list(body or ""), max(8, self.max_length - 3 - len(t)), self.head_share)))
        return (*pair, t + "".join(head_tail(list(body or ""), WIDE_MAX_WORDS * 2, self.head_share))) if wide else pair

    def encode(self, pairs: Sequence[tuple[str, ...]]) -> dict[str, torch.Tensor]:
        """Tokenizer output for prepared pairs; ``wide_ids``/``wide_mask`` too where they carry a wide text."""
        titles = [p[0] or "-" for p in pairs]
        bodies = [p[1] or "-" for p in pairs]
        enc = dict(self.tokenizer(
            titles, bodies, truncation="longest_first", max_length=self.max_length,
            padding=True, return_tensors="pt",
        ))
        if self.model.wide is not None and pairs and all(len(p) > 2 for p in pairs):
            wide = self.tokenizer([p[2] or "-" for p in pairs], add_special_tokens=False, padding=True,
                                  truncation=True, max_length=WIDE_MAX_WORDS * 2, return_tensors="pt")
            enc["wide_ids"], enc["wide_mask"] = wide["input_ids"], wide["attention_mask"]
        if self.model.cue is not None and self.cue_counter is not None:
            enc["cue_counts"] = self.cue_counter.counts(["".join(self.companion_words(p)) for p in pairs])
        return enc

    def forward(self, enc: dict[str, torch.Tensor], device: torch.device | None = None) -> dict[str, torch.Tensor]:
        """The network on an :meth:`encode` batch (moved to ``device`` when given)."""
        def get(key: str):
            value = enc.get(key)
            return value.to(device) if value is not None and device is not None else value

        return self.model(get("input_ids"), get("attention_mask"), get("token_type_ids"),
                          get("wide_ids"), get("wide_mask"), get("cue_counts"))

    def companion_words(self, pair: tuple[str, ...]) -> list[str]:
        """The words of a prepared message the linear companion reads (the whole message where prepared so)."""
        text = pair[2] if len(pair) > 2 else f"{pair[0]} {pair[1]}"
        if self.pre_tokenize == "jieba":
            return text.split()
        from nlp.segment import tokenize

        return tokenize(text)

    # -- inference ----------------------------------------------------------------------------
    def adjust(self, logits: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The network's logits with the stored logit adjustment applied (``meta["logit_adjust"]``): log-probabilities
        minus tau * log(training class share) for each adjusted head; others unchanged."""
        adjust = self.meta.get("logit_adjust") or {}
        out = dict(logits)
        for name, spec in adjust.items():
            if name in out and spec.get("tau"):
                shares = torch.tensor(spec["shares"], dtype=torch.float32)
                out[name] = torch.log_softmax(out[name].float(), -1) - float(spec["tau"]) * torch.log(shares)
        return out

    def fuse(self, logits: dict[str, torch.Tensor], pairs: Sequence[tuple[str, ...]]) -> dict[str, torch.Tensor]:
        """The network's logits (logit-adjusted where the model says so) with the linear companion's averaged in,
        as log-probabilities weighted by :attr:`companion_weight`, for the heads the companion has (risk stays the
        network's); for the topic, plus the convention expert's log-probabilities times :attr:`convention_weight`."""
        out = self.adjust(logits)
        if self.linear is None or not pairs:
            return out
        weight = self.companion_weight
        words = [self.companion_words(p) for p in pairs]
        term_lists = self.linear.term_lists(words)
        linear = self.linear.logits(words, term_lists)
        for name, values in linear.items():
            if name in out:
                companion = torch.from_numpy(values).float()
                out[name] = (1 - weight) * torch.log_softmax(out[name], -1) + weight * torch.log_softmax(companion, -1)
        if self.convention is not None and self.convention_weight and "topic" in out:
            from nlp.convention import convention_logprobs

            shared = term_lists if self.convention.reads_like(self.linear) else None  # one cue scan for both
            expert = torch.from_numpy(convention_logprobs(self.convention, words, shared))
            out["topic"] = out["topic"] + self.convention_weight * expert
        return out

    @property
    def companion_weight(self) -> float:
        """The companion's share of the fused log-probabilities (``meta["companion_weight"]``; models saved
        before it was a setting averaged with equal weights)."""
        return float(self.meta.get("companion_weight", 0.5))

    @property
    def convention_weight(self) -> float:
        """How much the convention expert's topic log-probabilities add (``meta["convention_weight"]``; 0 for models
        saved before it was a setting)."""
        return float(self.meta.get("convention_weight", 0.0))

    @torch.inference_mode()
    def logits(self, pairs: Sequence[tuple[str, ...]], batch_size: int = 64) -> dict[str, torch.Tensor]:
        """Logits per head for prepared pairs, in input order: the network's fused with the companion's."""
        return self.fuse(self.net_logits(pairs, batch_size), pairs)

    @torch.inference_mode()
    def net_logits(self, pairs: Sequence[tuple[str, ...]], batch_size: int = 64) -> dict[str, torch.Tensor]:
        """The network's own logits per head for prepared pairs, in input order (batches sorted by length)."""
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        chunks: dict[str, list[torch.Tensor]] = {name: [] for name in self.model.labels}
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            enc = self.encode([pairs[i] for i in idx])
            out = self.forward(enc)
            for name, value in out.items():
                chunks[name].append(value.float())
        inverse = torch.empty(len(order), dtype=torch.long)
        inverse[torch.tensor(order, dtype=torch.long)] = torch.arange(len(order))
        return {
            name: (torch.cat(parts)[inverse] if parts else torch.zeros(0, len(self.model.labels[name])))
            for name, parts in chunks.items()
        }

    def predict_pairs(self, pairs: Sequence[tuple[str, ...]], batch_size: int = 64) -> list[Prediction]:
        if not pairs:
            return []
        return self.predictions(self.logits(pairs, batch_size))

    def predictions(self, logits: dict[str, torch.Tensor]) -> list[Prediction]:
        """Labels and scores from per-head logits (softmax; sigmoid for the multi-label risk head)."""
        n = len(next(iter(logits.values()))) if logits else 0
        probs = {name: (torch.sigmoid(v) if name == "risk" else torch.softmax(v, -1)) for name, v in logits.items()}
        labels = self.model.labels
        out = []
        for i in range(n):
            single = {}
            for name in SINGLE_LABEL:
                p = probs[name][i]
                k = int(p.argmax())
                single[name] = (labels[name][k], float(p[k]))
            topic_scores = {lab: round(float(s), 4) for lab, s in zip(labels["topic"], probs["topic"][i])}
            risk = {lab: float(s) for lab, s in zip(labels.get("risk", []), probs["risk"][i])} if "risk" in probs else {}
            out.append(Prediction(
                topic=single["topic"][0], topic_score=single["topic"][1], topic_scores=topic_scores,
                sentiment=single["sentiment"][0], sentiment_score=single["sentiment"][1],
                appeal=single["appeal"][0], appeal_score=single["appeal"][1], risk_scores=risk,
            ))
        return out

    def predict(self, items: Sequence[tuple[str, str]], batch_size: int = 64) -> list[Prediction]:
        """Classify raw ``(title, text)`` pairs."""
        return self.predict_pairs([self.prepare(t, b) for t, b in items], batch_size)

    # -- persistence --------------------------------------------------------------------------
    def save(self, path: Path, half: bool = True, extra_meta: dict | None = None) -> None:
        """Write a model directory; weights in float16 by default (half the size, same predictions to ~1e-3)."""
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        _quiet()
        encoder = self.model.encoder
        if half:
            import copy

            encoder = copy.deepcopy(encoder).half()
        encoder.save_pretrained(str(path))
        self.tokenizer.save_pretrained(str(path))
        heads = {f"{name}.{k}": v.detach().float().contiguous() for name, head in self.model.heads.items()
                 for k, v in head.state_dict().items()}
        if self.model.wide is not None:  # mostly zeros and small numbers: half precision halves 10-20 MB
            heads[f"{WIDE_KEY}.weight"] = self.model.wide.bag.weight.detach().half().contiguous()
        cue_input = self.model.cue is not None and self.cue_counter is not None
        if cue_input:
            heads.update({f"{CUE_KEY}.{k}": v.detach().float().contiguous()
                          for k, v in self.model.cue.state_dict().items()})
        save_file(heads, str(path / HEADS_FILE))
        from nlp.linear import VOCAB_FILE, WEIGHTS_FILE
        from nlp.taxonomy import CUES_FILE

        if self.linear is not None:
            self.linear.save(path)
        else:  # a directory saved over must not keep an earlier model's companion
            for stale in (WEIGHTS_FILE, VOCAB_FILE, CUES_FILE):
                (path / stale).unlink(missing_ok=True)
        if cue_input:  # the cue input reads the companion's tables, which the directory keeps once
            if self.linear is None:
                self.cue_counter.save(path)
            elif not self.cue_counter.same_tables(self.linear.cues, self.linear.word_cues):
                raise ValueError("the cue input and the linear companion were given different cue tables")
        from nlp.convention import CONVENTION_DIR

        if self.convention is not None:
            (path / CONVENTION_DIR).mkdir(exist_ok=True)
            self.convention.save(path / CONVENTION_DIR)
        elif (path / CONVENTION_DIR).is_dir():  # nor an earlier model's convention expert
            shutil.rmtree(path / CONVENTION_DIR)
        meta = dict(self.meta, format=FORMAT, labels=self.model.labels, pooling=self.model.pooling,
                    wide_buckets=self.model.wide_buckets, linear_C=self.linear.C if self.linear is not None else 0,
                    cue_input=cue_input)
        meta.update(extra_meta or {})
        (path / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Classifier:
        from safetensors.torch import load_file

        path = Path(path)
        if not (path / META_FILE).is_file() or not (path / HEADS_FILE).is_file():
            raise ModelDirError(
                f"{path} is not a Minsheng classifier directory (no {META_FILE}/{HEADS_FILE}); "
                f"to use a Hugging Face encoder, fine-tune it first: minsheng train --encoder {path} --out DIR"
            )
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
        labels = meta.get("labels") or HEADS
        model = MultiHead(load_encoder(path), labels, pooling=meta.get("pooling", "mean"),
                          wide_buckets=int(meta.get("wide_buckets", 0)))
        state = load_file(str(path / HEADS_FILE))
        for name, head in model.heads.items():
            head.load_state_dict({k.split(".", 1)[1]: v for k, v in state.items() if k.split(".", 1)[0] == name})
        if model.wide is not None:
            model.wide.bag.weight.data.copy_(state[f"{WIDE_KEY}.weight"].float())
        from nlp.convention import CONVENTION_DIR
        from nlp.linear import LinearCompanion

        classifier = cls(load_tokenizer(path), model, meta, path)
        if meta.get("cue_input"):  # models saved before the setting have no cue layer
            from nlp.cue_input import CueCounter

            classifier.cue_counter = CueCounter.load(path, labels["topic"])
            model.add_cue_input(classifier.cue_counter.width).load_state_dict(
                {k.split(".", 1)[1]: v for k, v in state.items() if k.split(".", 1)[0] == CUE_KEY})
        classifier.linear = LinearCompanion.load(path)
        classifier.convention = LinearCompanion.load(path / CONVENTION_DIR)
        return classifier


_lock = threading.Lock()
_loaded: dict[str, Classifier] = {}


def model_dir() -> Path:
    """``MINSHENG_MODEL_DIR`` when set, else the bundled model."""
    from core.settings import get_settings

    return Path(get_settings().model_dir or BUNDLED_DIR).expanduser()


def get_classifier(path: Path | None = None) -> Classifier:
    """The process-wide classifier (loaded on first use, once, under a lock)."""
    key = str(Path(path or model_dir()).resolve())
    found = _loaded.get(key)
    if found is None:
        with _lock:
            found = _loaded.get(key)
            if found is None:
                log.info("loading classifier from %s", key)
                found = _loaded[key] = Classifier.load(Path(key))
    return found


def reset() -> None:
    """Forget loaded models (tests switch model directories)."""
    with _lock:
        _loaded.clear()
