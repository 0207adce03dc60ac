"""Risk flags (``LABELS.md``): rules that name the signal, plus the classifier's risk head.

A rule flag can be explained to an analyst ("matched 集体上访"); the model's head catches
paraphrases the rules miss. :func:`flags` unites both: a flag from the model needs a higher
probability than the head's usual 0.5 so that the urgent queue is not flooded.
"""
from __future__ import annotations

import re

from nlp.labels import RISKS

_NEG = r"(?<!没有)(?<!不存在)(?<!无)(?<!不会)"

PATTERNS: dict[str, list[str]] = {
    "group_action": [
        r"集体(?:上访|到访|信访|维权|去|前往|投诉|请愿|反映)", r"聚集", r"围堵", r"静坐", r"拉(?:起)?横幅",
        r"联名", r"群体(?:性)?事件", r"群体上访", r"(?:堵|封)(?:路|门|桥)", r"罢工", r"游行", r"示威",
        r"(?:上百|数百|几百|上千|数十|几十)(?:名|位|户|个|人)?(?:业主|村民|工人|群众|家长|居民)?(?:一起|共同|集体)",
        r"(?:业主|村民|工人|群众|家长|居民)们?(?:一起|集体|共同)(?:到|去|前往|上访)",
    ],
    "self_harm": [
        r"轻生", r"自杀", r"跳楼", r"跳河", r"寻死", r"不想活", r"活不下去", r"以死(?:相逼|明志|抗争)?",
        r"喝农药", r"割腕", r"一死了之", r"走投无路", r"死给", r"同归于尽",
    ],
    "violence": [
        r"打人", r"殴打", r"暴力(?!执法检查)", r"威胁", r"恐吓", r"持刀", r"砍(?:伤|死|人)", r"打伤", r"打死",
        r"(?:被|遭|遭到)(?:\S{0,6})?(?:打|殴|围殴|暴打)(?:了|伤|成)", r"动手打", r"黑社会", r"黑恶",
        r"报复", r"围殴", r"暴打", r"人身安全", r"拳打脚踢", r"扬言",
    ],
    "safety_hazard": [
        r"塌陷", r"坍塌", r"倒塌", r"垮塌", r"火灾隐患", r"(?:燃气|煤气|天然气)泄漏", r"漏气", r"危房",
        r"随时(?:可能|会|都有可能)?(?:倒|塌|掉|坠|发生|有)", r"(?:生命|人身)(?:财产)?安全(?:受到|造成)?(?:威胁|隐患)",
        _NEG + r"重大(?:安全)?隐患", r"触电", r"漏电", r"爆炸", r"裂缝", r"坠落", r"掉落", r"消防通道(?:被)?(?:堵|占)",
    ],
    "minor": [
        r"(?:儿童|孩子|小孩|学生|幼儿|未成年人?|小朋友|女童|男童)\S{0,12}(?:受伤|溺水|虐待|霸凌|欺凌|性侵|猥亵|殴打|被打|失踪|走失|辍学|失学|危险|安全隐患|中毒|死亡|身亡)",
        r"(?:虐待|霸凌|欺凌|性侵|猥亵|体罚|殴打)\S{0,8}(?:儿童|孩子|小孩|学生|幼儿|未成年|小朋友)",
        r"留守儿童", r"童工",
    ],
    "repeat": [
        r"(?:多次|屡次|反复|一再|再三|多番|数次|几次|N次|无数次|很多次|好几次|三番五次)\S{0,8}(?:反映|投诉|举报|打|拨打|向|上访|找|求助|咨询|留言|写信|联系|信访)",
        r"(?:仍|依然|至今|一直|还)(?:然)?(?:没有|未|没)(?:得到)?(?:解决|处理|回复|答复|落实|结果)", r"石沉大海",
        r"(?:无人|没人)(?:理睬|理会|过问|处理|管)", r"推诿扯皮", r"互相推诿", r"踢皮球",
        r"(?:再次|又一次|第[二三四五六七八九十\d]+次)(?:反映|投诉|举报|留言|求助|请求)",
        r"(?:去年|前年|\d+年)\S{0,10}(?:反映|投诉|留言)过",
    ],
}

_COMPILED = {flag: re.compile("|".join(f"(?:{p})" for p in pats)) for flag, pats in PATTERNS.items()}
#: Above this probability the classifier's risk head adds a flag the rules did not see.
MODEL_THRESHOLD = 0.6


def rule_matches(text: str) -> dict[str, str]:
    """flag -> the first matching phrase (shown to analysts as the reason)."""
    out = {}
    for flag in RISKS:
        m = _COMPILED[flag].search(text or "")
        if m:
            out[flag] = m.group()
    return out


def rule_flags(text: str) -> list[str]:
    return list(rule_matches(text))


def flags(text: str, model_scores: dict[str, float] | None = None, threshold: float = MODEL_THRESHOLD) -> list[str]:
    """Rules united with the model's confident flags, in ``RISKS`` order."""
    found = set(rule_flags(text))
    for flag, p in (model_scores or {}).items():
        if p >= threshold:
            found.add(flag)
    return [f for f in RISKS if f in found]
