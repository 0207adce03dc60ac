"""NLP benchmarks: segmentation speed and agreement (jieba vs rjieba), classification throughput,
model load time, worker peak memory, and near-duplicate precision on the shared corpus.

Usage::

    .venv/bin/python bench/nlp.py [--data ../shared/data/gov_messages] [--model nlp/models]
                                  [--only seg,classify,load,memory,simhash] [--json out.json]

Prints figures; never part of the test pass/fail. Timings depend on what else the machine runs:
the script prints the load average next to them.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def corpus_texts(data: Path) -> list[dict]:
    from nlp.corpus import load_unlabeled

    return list(load_unlabeled(data).values())


# -- segmentation ------------------------------------------------------------------------------
def bench_segmentation(data: Path) -> dict:
    import logging

    import jieba
    import rjieba

    from nlp import segment
    from nlp.text import clean

    jieba.setLogLevel(logging.WARNING)
    texts = [clean(r.get("text") or "") for r in corpus_texts(data)]
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    py = jieba.Tokenizer()
    py.initialize()
    rs = rjieba.Jieba()
    for word, freq, tag in segment.read_user_dict():
        py.add_word(word, freq, tag)
        rs.add_word(word, freq, tag)

    def timed(fn) -> tuple[float, list]:
        best, out = float("inf"), None
        for _ in range(2):
            start = time.perf_counter()
            out = [fn(t) for t in texts]
            best = min(best, time.perf_counter() - start)
        return best, out

    t_py, a = timed(py.lcut)
    t_rs, b = timed(rs.cut)
    segment.warm()
    t_tok, _ = timed(lambda t: segment.tokenize(t, cleaned=True))
    t_clean = min(_time(lambda: [clean(r.get("text") or "") for r in corpus_texts(data)]) for _ in range(2))

    def spans(tokens):
        out, pos = set(), 0
        for w in tokens:
            out.add((pos, pos + len(w)))
            pos += len(w)
        return out

    agree = sum(len(spans(x) & spans(y)) for x, y in zip(a, b))
    total_a = sum(len(spans(x)) for x in a)
    total_b = sum(len(spans(y)) for y in b)
    same_docs = sum(x == y for x, y in zip(a, b)) / len(texts)
    probe = "网格员说拆迁安置和公积金的事打12345热线问学区房"
    figures = {
        "corpus_mb": round(mb, 2), "docs": len(texts),
        "jieba_mb_s": round(mb / t_py, 2), "rjieba_mb_s": round(mb / t_rs, 2),
        "minsheng_tokenize_mb_s": round(mb / t_tok, 2), "clean_mb_s": round(mb / t_clean, 2),
        "token_agreement_f1": round(2 * agree / (total_a + total_b), 4), "identical_docs": round(same_docs, 4),
        "user_dict_jieba": py.lcut(probe), "user_dict_rjieba": rs.cut(probe),
    }
    print(f"segmentation ({mb:.2f} MB, {len(texts)} messages, 1 thread; load {_load()}):")
    print(f"  jieba (Python)        {figures['jieba_mb_s']:7.2f} MB/s")
    print(f"  rjieba (jieba-rs)     {figures['rjieba_mb_s']:7.2f} MB/s")
    print(f"  nlp.segment.tokenize  {figures['minsheng_tokenize_mb_s']:7.2f} MB/s (rjieba + masked-code split + filtering)")
    print(f"  nlp.text.clean        {figures['clean_mb_s']:7.2f} MB/s (HTML, NFKC, traditional->simplified)")
    print(f"  token agreement (span F1) {figures['token_agreement_f1']:.4f}; identical segmentation in "
          f"{same_docs:.1%} of messages")
    print(f"  user dictionary, jieba : {' / '.join(figures['user_dict_jieba'])}")
    print(f"  user dictionary, rjieba: {' / '.join(figures['user_dict_rjieba'])}")
    return figures


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# -- classification --------------------------------------------------------------------------------
def bench_classify(data: Path, model: Path, n: int, threads: int) -> dict:
    import torch

    from nlp.classifier import Classifier
    from nlp.pipeline import analyse_many

    torch.set_num_threads(threads)
    rows = corpus_texts(data)[:n]
    clf = Classifier.load(model)
    items = [(r.get("title") or "", r.get("text") or "") for r in rows]
    pairs = [clf.prepare(t, x) for t, x in items]
    clf.predict_pairs(pairs[:64])
    figures = {"threads": threads, "docs": len(rows)}
    for batch in (1, 32, 64, 128):
        sample = pairs if batch > 1 else pairs[:200]
        spent = _time(lambda: clf.predict_pairs(sample, batch))
        figures[f"model_docs_s_batch{batch}"] = round(len(sample) / spent, 1)
    spent = _time(lambda: [clf.prepare(t, x) for t, x in items])
    figures["prepare_docs_s"] = round(len(items) / spent, 1)
    spent = _time(lambda: analyse_many(items, clf, 64))
    figures["pipeline_docs_s"] = round(len(items) / spent, 1)
    print(f"classification ({len(rows)} corpus messages, torch threads {threads}, max_length {clf.max_length}; "
          f"load {_load()}):")
    for batch in (1, 32, 64, 128):
        print(f"  model only, batch {batch:3d}: {figures[f'model_docs_s_batch{batch}']:8.1f} docs/s")
    print(f"  segmentation + input preparation: {figures['prepare_docs_s']:8.1f} docs/s")
    print(f"  whole pipeline (analyse_many, batch 64): {figures['pipeline_docs_s']:8.1f} docs/s")
    return figures


# -- load time and memory (fresh processes) -------------------------------------------------------------
_LOAD_SNIPPET = """
import time, json, sys
t0 = time.perf_counter()
import torch, transformers  # noqa
from nlp.classifier import Classifier
t1 = time.perf_counter()
clf = Classifier.load(sys.argv[1])
t2 = time.perf_counter()
clf.predict([("小区停水", "小区停水三天了")])
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "first_predict_s": t3 - t2}))
"""

_MEMORY_SNIPPET = """
import json, resource, sys
from nlp.corpus import load_unlabeled
from nlp.pipeline import analyse_many
from nlp.classifier import get_classifier
import os
os.environ["MINSHENG_MODEL_DIR"] = sys.argv[1]
rows = list(load_unlabeled(sys.argv[2]).values())[:1000]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
clf = get_classifier()
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
analyse_many([(r.get("title") or "", r.get("text") or "") for r in rows], clf, 64)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rss_imports_mb": before / 1024, "rss_loaded_mb": loaded / 1024, "rss_peak_mb": after / 1024}))
"""


def _subprocess_json(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_load(model: Path, repeat: int = 3) -> dict:
    runs = [_subprocess_json(_LOAD_SNIPPET, str(model)) for _ in range(repeat)]
    best = {k: round(min(r[k] for r in runs), 3) for k in runs[0]}
    size = sum(p.stat().st_size for p in model.rglob("*") if p.is_file() and "pretrained" not in p.relative_to(model).parts)
    best["model_dir_mb"] = round(size / 1e6, 2)
    print(f"model load (fresh process, best of {repeat}; load {_load()}):")
    print(f"  import torch + transformers: {best['import_s']:.2f} s")
    print(f"  Classifier.load:             {best['load_s']:.2f} s")
    print(f"  first prediction:            {best['first_predict_s']:.2f} s")
    print(f"  model directory size:        {best['model_dir_mb']:.2f} MB (without pretrained/)")
    return best


def bench_memory(model: Path, data: Path) -> dict:
    fig = {k: round(v, 1) for k, v in _subprocess_json(_MEMORY_SNIPPET, str(model), str(data)).items()}
    print("worker memory (fresh process; max RSS):")
    print(f"  after imports {fig['rss_imports_mb']:.0f} MB, model loaded {fig['rss_loaded_mb']:.0f} MB, "
          f"after analysing 1,000 messages {fig['rss_peak_mb']:.0f} MB")
    return fig


# -- near-duplicates ----------------------------------------------------------------------------------------------
def _shingles(text: str, k: int = 5) -> set[str]:
    text = "".join(text.split())
    return {text[i : i + k] for i in range(max(1, len(text) - k + 1))}


def bench_simhash(data: Path, threshold: float = 0.5) -> dict:
    import numpy as np

    from nlp import segment, simhash
    from nlp.text import clean

    rows = corpus_texts(data)
    texts = {str(r["id"]): clean(f"{r.get('title') or ''}\n{r.get('text') or ''}") for r in rows}
    start = time.perf_counter()
    hashes = {k: simhash.fingerprint(segment.tokenize(v, cleaned=True)) for k, v in texts.items()}
    t_hash = time.perf_counter() - start
    index = simhash.MultiIndex()
    for k, v in hashes.items():
        index.add(k, v)
    start = time.perf_counter()
    pairs = list(index.pairs())
    t_pairs = time.perf_counter() - start
    keys = list(hashes)
    arr = np.array([hashes[k] for k in keys], dtype=np.uint64)
    probe = keys[: min(500, len(keys))]
    start = time.perf_counter()
    for k in probe:
        index.near(hashes[k])
    t_index = (time.perf_counter() - start) / len(probe)
    start = time.perf_counter()
    for k in probe:
        x = np.bitwise_xor(arr, np.uint64(hashes[k]))
        np.unpackbits(x.view(np.uint8)).reshape(len(arr), 64).sum(1)
    t_scan = (time.perf_counter() - start) / len(probe)
    sims = [len(_shingles(texts[a]) & _shingles(texts[b])) / len(_shingles(texts[a]) | _shingles(texts[b]))
            for a, b, _ in pairs]
    good = sum(s >= threshold for s in sims)
    by_distance = {}
    for (a, b, d), s in zip(pairs, sims):
        hit = by_distance.setdefault(d, [0, 0])
        hit[0] += 1
        hit[1] += s >= threshold
    figures = {
        "docs": len(hashes), "hash_docs_s": round(len(hashes) / t_hash, 1), "pairs": len(pairs),
        "precision": round(good / len(pairs), 4) if pairs else None, "jaccard_threshold": threshold,
        "by_distance": {d: {"pairs": n, "precision": round(g / n, 4)} for d, (n, g) in sorted(by_distance.items())},
        "all_pairs_s": round(t_pairs, 3), "lookup_ms_index": round(t_index * 1000, 3),
        "lookup_ms_numpy_scan": round(t_scan * 1000, 3),
    }
    print(f"near-duplicates ({len(hashes)} messages; load {_load()}):")
    print(f"  fingerprints: {figures['hash_docs_s']:.0f} docs/s; all pairs within distance 3: {len(pairs)} "
          f"in {t_pairs:.2f} s")
    print(f"  precision (5-character shingle Jaccard >= {threshold}): {figures['precision']}")
    for d, v in figures["by_distance"].items():
        print(f"    distance {d}: {v['pairs']} pairs, precision {v['precision']}")
    print(f"  one lookup: multi-index {figures['lookup_ms_index']:.3f} ms vs numpy scan of all "
          f"{len(hashes)} {figures['lookup_ms_numpy_scan']:.3f} ms")
    for (a, b, d), s in list(zip(pairs, sims))[:3]:
        print(f"    e.g. {a} ~ {b} (distance {d}, Jaccard {s:.2f})")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "gov_messages")
    parser.add_argument("--model", type=Path, default=ROOT / "nlp" / "models")
    parser.add_argument("--only", default="seg,classify,load,memory,simhash")
    parser.add_argument("--docs", type=int, default=2000, help="messages for the throughput figures")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"corpus not found at {args.data}")
    parts = set(args.only.split(","))
    figures: dict = {"cpus": os.cpu_count(), "load_before": _load()}
    print(f"machine: {os.cpu_count()} CPUs, load average {_load()}")
    if "seg" in parts:
        figures["segmentation"] = bench_segmentation(args.data)
    if "classify" in parts:
        figures["classification"] = bench_classify(args.data, args.model, args.docs, args.threads)
    if "load" in parts:
        figures["load"] = bench_load(args.model)
    if "memory" in parts:
        figures["memory"] = bench_memory(args.model, args.data)
    if "simhash" in parts:
        figures["simhash"] = bench_simhash(args.data)
    figures["self_max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
