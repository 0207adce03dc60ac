"""Topic cues from the taxonomy: the level-2 and level-3 entries of ``taxonomy.csv`` that belong to one topic only.

Why: LABELS.md defines a topic by what its taxonomy levels cover (邮政管理 is 交通运输, 原民办代课教师 and 文物保护
are 教育文体, 传销 and 特种设备管理 are 商贸旅游, 失独家庭 is 卫生计生). A few thousand labelled messages teach the
word 工资 well and these rules barely at all, so a message about a teacher's pay drifts to 劳动和社会保障. A message
that names such an entry gets one cue feature per entry, carrying the entry's topic; the linear companion
(``nlp.linear``) learns from the labels how far to trust the cues. Entries that two topics share (工资福利,
住房公积金) and the catch-all 其他 are no cue.

Whole entries are long (邮政市场监管, 中介机构管理) and messages rarely name them word for word, so the words of the
entries are a second, weaker table: a jieba word of some entry that only one topic's entries use (邮政, 直销,
计生, 商标, 代课) is a word cue of that topic, with features of its own (``WORD_PREFIX``) so the regression
weighs the two tables apart. Only rare words count (``nlp.linear.WORD_CUE_MAX_DF``): 小区 and 工资 are taught
well by the labels themselves, and in the table they would only add noise.

The tables are read from the data folder at training time and saved with the model (``topic_cues.tsv`` and
``topic_word_cues.tsv``: cue and topic per line), so a model directory is self-contained and a site with its own
taxonomy retrains with it.
"""
from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

from nlp.labels import TOPICS

TAXONOMY_FILE = "taxonomy.csv"
CUES_FILE = "topic_cues.tsv"
WORD_CUES_FILE = "topic_word_cues.tsv"
#: Prefix of a cue feature in the companion's vocabulary (cannot collide with a jieba word or word pair).
CUE_PREFIX = "§topic:"
#: Prefix of a word cue's feature (a separate feature, so entries and words earn their own trust).
WORD_PREFIX = "§word:"
#: Entries shorter than this match inside unrelated words.
MIN_CUE_CHARS = 2
CATCH_ALL = "其他"


def _entries(path: Path) -> list[tuple[str, str]]:
    """(entry, topic) for every level-2 and level-3 entry of a ``level1,level2,level3`` CSV under a known topic."""
    out = []
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
                    out.append((entry, topic))
    return out


def _one_owner(pairs: list[tuple[str, str]]) -> dict[str, str]:
    owners: dict[str, set[str]] = {}
    for cue, topic in pairs:
        owners.setdefault(cue, set()).add(topic)
    return {cue: next(iter(topics)) for cue, topics in sorted(owners.items()) if len(topics) == 1}


def read_taxonomy(path: Path) -> dict[str, str]:
    """Cue entry -> topic from a ``level1,level2,level3`` CSV: entries under exactly one known topic."""
    return _one_owner(_entries(path))


def read_taxonomy_words(path: Path) -> dict[str, str]:
    """Word cue -> topic: the jieba words (two characters or more) of the entries that one topic's entries use."""
    from nlp.segment import tokenize

    return _one_owner([(word, topic) for entry, topic in _entries(path) for word in tokenize(entry)
                       if len(word) >= MIN_CUE_CHARS and word != CATCH_ALL])


def cues_from_data(data_dir: Path) -> dict[str, str]:
    """The cue table of a gov_messages-shaped folder; empty when it has no ``taxonomy.csv``."""
    path = Path(data_dir) / TAXONOMY_FILE
    return read_taxonomy(path) if path.is_file() else {}


def word_cues_from_data(data_dir: Path) -> dict[str, str]:
    """The word cue table of a gov_messages-shaped folder (before the companion keeps the rare ones)."""
    path = Path(data_dir) / TAXONOMY_FILE
    return read_taxonomy_words(path) if path.is_file() else {}


def cue_features(text: str, cues: Mapping[str, str], prefix: str = CUE_PREFIX) -> list[str]:
    """One ``prefix + topic`` feature per cue the text contains (overlapping cues all count)."""
    return [prefix + topic for entry, topic in cues.items() if entry in text]


class CueIndex:
    """A cue table indexed by first character, so a text is scanned once rather than searched once per cue.

    Why: with about 1,000 entries and words, one substring search per cue took 0.37 ms a message on the corpus;
    the scan gives the same features (``cue_features``) in 0.25 ms.
    """

    def __init__(self, cues: Mapping[str, str], prefix: str = CUE_PREFIX):
        self.size = len(cues)
        self.by_first: dict[str, list[tuple[str, str]]] = {}
        for cue, topic in cues.items():
            if cue:
                self.by_first.setdefault(cue[0], []).append((cue, prefix + topic))

    def features(self, text: str) -> list[str]:
        """One feature per cue the text contains, as ``cue_features`` gives them."""
        found: dict[str, str] = {}
        candidates = self.by_first.get
        for i, char in enumerate(text):
            for cue, feature in candidates(char, ()):
                if cue not in found and text.startswith(cue, i):
                    found[cue] = feature
        return list(found.values())


def rare_cues(cues: Mapping[str, str], texts: list[str], max_share: float) -> dict[str, str]:
    """The cues found in at most ``max_share`` of the texts. A cue the texts never contain stays: it fires at
    prediction with the weight its topic's other cues earned in training, which is what the pooled feature is for."""
    limit = max_share * len(texts)
    return {cue: topic for cue, topic in cues.items() if sum(cue in t for t in texts) <= limit}


def save_cues(cues: Mapping[str, str], model_dir: Path, name: str = CUES_FILE) -> None:
    lines = [f"{entry}\t{topic}" for entry, topic in sorted(cues.items())]
    (Path(model_dir) / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def save_cue_tables(model_dir: Path, cues: Mapping[str, str], word_cues: Mapping[str, str]) -> None:
    """Write the entry and word cue tables into a model directory; an empty one removes its file, so a directory
    saved over keeps no earlier model's cues."""
    for name, table in ((CUES_FILE, cues), (WORD_CUES_FILE, word_cues)):
        if table:
            save_cues(table, model_dir, name)
        else:
            (Path(model_dir) / name).unlink(missing_ok=True)


def load_cues(model_dir: Path, name: str = CUES_FILE) -> dict[str, str]:
    """The cue table saved in a model directory; empty where there is none."""
    path = Path(model_dir) / name
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        entry, _, topic = line.partition("\t")
        if entry and topic in TOPICS:
            out[entry] = topic
    return out
