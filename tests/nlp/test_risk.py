"""Risk flag rules (LABELS.md): each flag fires on its signals and stays quiet on look-alikes."""
from __future__ import annotations

import pytest

from nlp.risk import flags, rule_flags, rule_matches

CASES = [
    ("group_action", "小区两百多户业主准备集体上访，已经联名写信", "业主们希望早日解决停车问题"),
    ("self_harm", "被拖欠工资两年，实在活不下去了，想到轻生", "希望生活越来越好"),
    ("violence", "城管队员当街殴打摊贩，还威胁我们", "我打电话给城管"),
    ("safety_hazard", "路面塌陷一个大坑，燃气泄漏味道很重", "路灯有点暗"),
    ("minor", "幼儿园老师虐待孩子，多名儿童受伤", "孩子上学路程较远"),
    ("repeat", "已经多次向街道反映，至今没有解决", "第一次反映这个问题"),
]


@pytest.mark.parametrize("flag,positive,negative", CASES)
def test_rule_fires_and_stays_quiet(flag, positive, negative):
    assert flag in rule_flags(positive)
    assert flag not in rule_flags(negative)


def test_reason_is_the_matched_phrase():
    assert rule_matches("已经多次反映了")["repeat"] == "多次反映"


def test_model_scores_add_confident_flags_only():
    text = "楼上每天很吵"
    assert flags(text) == []
    assert flags(text, {"violence": 0.9, "repeat": 0.2}) == ["violence"]
    assert flags("多次投诉无果", {"repeat": 0.0}) == ["repeat"]


def test_flags_in_label_order_and_empty_text():
    assert flags("燃气泄漏，多次反映，业主集体上访") == ["group_action", "safety_hazard", "repeat"]
    assert flags("") == [] and flags(None) == []
