"""Topic cues from the taxonomy: the level-2 and level-3 entries of ``taxonomy.csv`` that belong to one topic only.

Why: LABELS.md defines a topic by what its taxonomy levels cover (邮政管理 is 交通运输, 原民办代课教师 and 文物保护
are 教育文体, 传销 and 特种设备管理 are 商贸旅游, 失独家庭 is 卫生计生). A few thousand labelled messages teach the
word 工资 well and these rules barely at all, so a message about a teacher's pay drifts to 劳动和社会保障. A message
that names such an entry gets one cue feature per entry, carrying the entry's topic; the linear companion
(``nlp.linear``) learns from the labels how far to trust the cues. Entries that two topics share (工资福利,
住房公积金) and the catch-all 其他 are no cue.

The table is read from the data folder at training time and saved with the model (``topic_cues.tsv``: entry and
topic per line), so a model directory is self-contained and a site with its own taxonomy retrains with it.
"""
from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

from nlp.labels import TOPICS

TAXONOMY_FILE = "taxonomy.csv"
CUES_FILE = "topic_cues.tsv"
#: Prefix of a cue feature in the companion's vocabulary (cannot collide with a jieba word or word pair).
CUE_PREFIX = "§topic:"
#: Entries shorter than this match inside unrelated words.
MIN_CUE_CHARS = 2
CATCH_ALL = "其他"


def read_taxonomy(path: Path) -> dict[str, str]:
    """Cue entry -> topic from a ``level1,level2,level3`` CSV: entries under exactly one known topic."""
    owners: dict[str, set[str]] = {}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"level1", "level2", "level3"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: columns {', '.join(sorted(missing))} missing (expected level1,level2,level3)")
        for row in reader:
            topic = (row.get("level1") or "").strip()
            if topic not in TOPICS:
                continue
            for level in ("level2", "level3"):
                entry = (row.get(level) or "").strip()
                if len(entry) >= MIN_CUE_CHARS and entry != CATCH_ALL:
                    owners.setdefault(entry, set()).add(topic)
    return {entry: next(iter(topics)) for entry, topics in sorted(owners.items()) if len(topics) == 1}


def cues_from_data(data_dir: Path) -> dict[str, str]:
    """The cue table of a gov_messages-shaped folder; empty when it has no ``taxonomy.csv``."""
    path = Path(data_dir) / TAXONOMY_FILE
    return read_taxonomy(path) if path.is_file() else {}


def cue_features(text: str, cues: Mapping[str, str]) -> list[str]:
    """One ``CUE_PREFIX + topic`` feature per cue entry the text contains (overlapping entries all count)."""
    return [CUE_PREFIX + topic for entry, topic in cues.items() if entry in text]


def save_cues(cues: Mapping[str, str], model_dir: Path) -> None:
    lines = [f"{entry}\t{topic}" for entry, topic in sorted(cues.items())]
    (Path(model_dir) / CUES_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_cues(model_dir: Path) -> dict[str, str]:
    """The cue table saved in a model directory; empty where there is none."""
    path = Path(model_dir) / CUES_FILE
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        entry, _, topic = line.partition("\t")
        if entry and topic in TOPICS:
            out[entry] = topic
    return out
