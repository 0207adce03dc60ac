"""Synthetic search corpora sampled and perturbed from the shared message corpus.

The shared messages are read at run time from ``../shared/data/gov_messages`` and segmented once
(jieba, the same tokenizer as the index); each generated document takes a random message, drops
and reorders some of its sentences, renames districts, changes numbers, swaps a few words for
other corpus words and gets its own time and labels. Nothing is written into the repository.
"""
from __future__ import annotations

import datetime as dt
import json
import pickle
import random
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import rjieba

from search.schema import IndexDoc
from search.tokens import clean, index_field, tokenize

TOPICS = ("城乡建设", "环境保护", "交通运输", "教育文体", "劳动和社会保障", "商贸旅游", "卫生计生",
          "农村农业", "政法", "民政", "党务政务", "经济管理", "纪检监察", "国土资源", "科技与信息产业")
TOPIC_WEIGHTS = (30, 10, 9, 12, 11, 5, 6, 4, 3, 3, 2, 2, 1, 1, 1)
SENTIMENTS = (("negative", 70), ("neutral", 25), ("positive", 5))
APPEALS = (("投诉", 45), ("咨询", 25), ("举报", 12), ("建议", 10), ("求助", 6), ("表扬", 2))
RISKS = ("group_action", "self_harm", "violence", "safety_hazard", "minor", "repeat")
SOURCES = (("gov_board", 55), ("form", 20), ("weibo", 15), ("news", 10))
DEPARTMENTS = ("zjj", "sthjj", "jtysj", "jyj", "rsj", "swj", "wlj", "wjw", "nyncj", "gaj", "mzj", "zrzyj", "scjgj")
STATUSES = (("submitted", 10), ("assigned", 30), ("answered", 35), ("closed", 25))
_DISTRICT = re.compile(r"^a\d+区$")
_PLACE = re.compile(r".{2,}(小区|街道|社区|镇|村|路|县|花园|广场)$")
_SENTENCE_END = frozenset("。！？!?；;")


def _weighted(rng: random.Random, pairs) -> str:
    values, weights = zip(*pairs)
    return rng.choices(values, weights)[0]


class CorpusGenerator:
    def __init__(self, data_dir: Path, work_dir: Path, seed: int = 42):
        self.rng = random.Random(seed)
        cache = work_dir / "segmented.pickle"
        if cache.exists():
            self.base = pickle.loads(cache.read_bytes())
        else:
            self.base = self._segment(data_dir)
            cache.write_bytes(pickle.dumps(self.base))
        df = Counter(t for b in self.base for t in set(b["tokens"]))
        n = len(self.base)
        for b in self.base:
            cands = [t for t in set(b["tokens"]) if len(t) >= 2 and not t.isdigit()]
            cands.sort(key=lambda t: (df[t] / n, -len(t)))
            b["keywords"] = cands[:3]
            b["places"] = sorted({t for t in b["tokens"] if _PLACE.match(t)})[:3]
        self._cleaned: dict[str, str] = {}
        self.vocabulary = [t for b in self.base for t in b["tokens"] if len(t) >= 2]

    @staticmethod
    def _segment(data_dir: Path) -> list[dict]:
        out = []
        with open(data_dir / "unlabeled.jsonl", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                raw_tokens = rjieba.cut(row["text"])
                out.append({
                    "title": row["title"], "raw": raw_tokens, "tokens": tokenize(row["text"]),
                    "time": dt.datetime.fromisoformat(row["time"]).replace(tzinfo=dt.timezone.utc),
                    "likes": row.get("likes") or 0,
                })
        return out

    def _clean(self, tok: str) -> str:
        try:
            return self._cleaned[tok]
        except KeyError:
            pieces = clean([tok])
            value = self._cleaned[tok] = pieces[0] if len(pieces) == 1 else " ".join(pieces)
            return value

    def _perturb(self, raw: list[str]) -> list[str]:
        rng = self.rng
        sentences, current = [], []
        for tok in raw:
            current.append(tok)
            if tok in _SENTENCE_END:
                sentences.append(current)
                current = []
        if current:
            sentences.append(current)
        kept = [s for s in sentences if rng.random() < 0.9] or sentences[:1]
        if len(kept) > 2 and rng.random() < 0.3:
            head, tail = kept[:1], kept[1:]
            rng.shuffle(tail)
            kept = head + tail
        out = []
        for sentence in kept:
            for tok in sentence:
                low = tok.lower()
                if _DISTRICT.match(low):
                    tok = f"A{rng.randint(1, 9)}区"
                elif tok.isdigit() and len(tok) < 6:
                    tok = str(rng.randint(1, 10 ** len(tok) - 1))
                elif len(tok) >= 2 and rng.random() < 0.04:
                    tok = rng.choice(self.vocabulary)
                out.append(tok)
        return out

    def docs(self, n: int, start_id: int = 1) -> Iterator[IndexDoc]:
        rng = self.rng
        epoch_span = 365 * 2
        for doc_id in range(start_id, start_id + n):
            b = rng.choice(self.base)
            raw = self._perturb(b["raw"])
            body = "".join(raw)
            tokens = [c for c in map(self._clean, raw) if c]
            title_raw = [f"A{rng.randint(1, 9)}区" if _DISTRICT.match(t.lower()) else t
                         for t in rjieba.cut(b["title"])] if rng.random() < 0.02 else None
            title = "".join(title_raw) if title_raw else b["title"]
            if title_raw:
                title_tokens = tokenize(title)
            else:
                if "title_tokens" not in b:
                    b["title_tokens"] = tokenize(b["title"])
                title_tokens = b["title_tokens"]
            source = _weighted(rng, SOURCES)
            is_case = source == "form"
            time = b["time"] + dt.timedelta(days=rng.uniform(-epoch_span, epoch_span), seconds=rng.randint(0, 86399))
            topic = TOPICS[zlib.crc32(b["title"].encode()) % 15] if rng.random() < 0.9 else rng.choices(TOPICS, TOPIC_WEIGHTS)[0]
            yield IndexDoc(
                id=doc_id, source=source, title=title, body=body,
                tokens=index_field(tokens), title_tokens=index_field(title_tokens),
                time=time, topic=topic, sentiment=_weighted(rng, SENTIMENTS), appeal=_weighted(rng, APPEALS),
                risk=[rng.choice(RISKS)] if rng.random() < 0.03 else [],
                places=b["places"], place_tokens=" ".join(t for p in b["places"] for t in tokenize(p)),
                keywords=b["keywords"],
                department=rng.choice(DEPARTMENTS) if is_case else None,
                status=_weighted(rng, STATUSES) if is_case else None,
                case=f"MS{time:%Y%m%d}-{doc_id % 100000:05d}" if is_case else None,
                heat=int(b["likes"]) + rng.randint(0, 20),
            )
