"""Merge the annotators' label files into ``nlp/data/annotations.jsonl`` and report blind agreement.

Usage (from the repository root)::

    .venv/bin/python nlp/data/merge_annotations.py [--src /tmp/annot] [--data ../shared/data/gov_messages]

Reads ``SRC/batch*_out.jsonl`` (lines ``{"id","topic","sentiment","appeal","risk"}``), keeps
valid lines only (label names exactly as LABELS.md), de-duplicates by id (the last line of
an id wins: an annotator's correction comes after the first try), sorts by id and writes ids
and labels only, never text. Then compares ``SRC/gold_blind_out.jsonl`` (a blind relabel of
gold messages) with the gold topics of ``labeled_topic.jsonl``: accuracy, per-class agreement
and the disagreements, written to ``nlp/data/gold_blind_agreement.json`` as well.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TOPICS = ("城乡建设 环境保护 交通运输 教育文体 劳动和社会保障 商贸旅游 卫生计生 农村农业 政法 民政 党务政务 "
          "经济管理 纪检监察 国土资源 科技与信息产业").split()
SENTIMENTS = {"negative", "neutral", "positive"}
APPEALS = {"投诉", "举报", "咨询", "建议", "求助", "表扬"}
RISKS = ("group_action", "self_harm", "violence", "safety_hazard", "minor", "repeat")


def valid(r: dict) -> bool:
    return (
        isinstance(r.get("id"), int) and r.get("topic") in TOPICS and r.get("sentiment") in SENTIMENTS
        and r.get("appeal") in APPEALS and isinstance(r.get("risk"), list) and set(r["risk"]) <= set(RISKS)
    )


def read_labels(path: Path) -> tuple[dict[int, dict], int]:
    rows: dict[int, dict] = {}
    bad = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if not valid(r):
            bad += 1
            continue
        rows[r["id"]] = {"id": r["id"], "topic": r["topic"], "sentiment": r["sentiment"], "appeal": r["appeal"],
                         "risk": [f for f in RISKS if f in r["risk"]]}
    return rows, bad


def merge(src: Path, out: Path) -> dict[int, dict]:
    merged: dict[int, dict] = {}
    for path in sorted(src.glob("batch*_out.jsonl")):
        rows, bad = read_labels(path)
        print(f"{path.name}: {len(rows)} labelled" + (f", {bad} invalid lines skipped" if bad else ""))
        merged.update(rows)
    out.write_text("".join(json.dumps(merged[k], ensure_ascii=False) + "\n" for k in sorted(merged)), encoding="utf-8")
    print(f"wrote {len(merged)} annotations to {out}")
    for key in ("topic", "sentiment", "appeal"):
        print(f"  {key}: " + ", ".join(f"{k} {v}" for k, v in Counter(r[key] for r in merged.values()).most_common()))
    print("  risk: " + ", ".join(f"{k} {v}" for k, v in Counter(f for r in merged.values() for f in r["risk"]).most_common()))
    return merged


def agreement(blind_path: Path, data_dir: Path) -> dict:
    gold = {}
    for line in (data_dir / "labeled_topic.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            gold[r["id"]] = r["topic"]
    blind, _ = read_labels(blind_path)
    pairs = [(gold[i], r["topic"]) for i, r in sorted(blind.items()) if i in gold]
    n = len(pairs)
    agree = sum(g == b for g, b in pairs)
    per_class = {}
    for topic in sorted({g for g, _ in pairs}, key=TOPICS.index):
        mine = [(g, b) for g, b in pairs if g == topic]
        labelled_as = [(g, b) for g, b in pairs if b == topic]
        per_class[topic] = {
            "gold": len(mine), "agree": sum(g == b for g, b in mine),
            "recall": round(sum(g == b for g, b in mine) / len(mine), 3),
            "precision": round(sum(g == b for g, b in labelled_as) / len(labelled_as), 3) if labelled_as else None,
        }
    # Cohen's kappa: agreement beyond what the two label distributions give by chance
    gc, bc = Counter(g for g, _ in pairs), Counter(b for _, b in pairs)
    chance = sum(gc[t] * bc[t] for t in TOPICS) / (n * n) if n else 0.0
    kappa = ((agree / n) - chance) / (1 - chance) if n and chance < 1 else 0.0
    report = {
        "messages": n, "accuracy": round(agree / n, 4) if n else None, "cohen_kappa": round(kappa, 4),
        "per_class": per_class,
        "disagreements": dict(Counter(f"{g} -> {b}" for g, b in pairs if g != b).most_common()),
    }
    print(f"\ngold-blind agreement: {agree}/{n} = {report['accuracy']}  (Cohen's kappa {report['cohen_kappa']})")
    for topic, c in per_class.items():
        print(f"  {topic:<10} gold {c['gold']:3d}  agree {c['agree']:3d}  recall {c['recall']:.3f}  precision {c['precision']}")
    print("  disagreements (gold -> blind): " + ", ".join(f"{k} x{v}" for k, v in report["disagreements"].items()))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--src", type=Path, default=Path("/tmp/annot"))
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "gov_messages")
    parser.add_argument("--out", type=Path, default=HERE / "annotations.jsonl")
    args = parser.parse_args()
    merge(args.src, args.out)
    blind = args.src / "gold_blind_out.jsonl"
    if blind.is_file():
        report = agreement(blind, args.data)
        (args.out.parent / "gold_blind_agreement.json").write_text(
            json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
