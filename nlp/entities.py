"""Places and organisations from part-of-speech-tagged words, normalised so one place counts once.

A place is a run of name-like words closed by a place suffix (市/区/县/街道/镇/社区/村/小区/路 …,
or a word jieba tags as a place name). The run is split into its administrative parts
(``A市A2区桂花坪街道`` -> ``A市``, ``A2区``, ``桂花坪街道``) and a residential compound loses its
generic ``小区`` suffix, so ``A2区丽发新城小区`` and ``丽发新城`` both give ``丽发新城``.
An organisation is a run closed by 公司, 学校, 局, 医院 … or a word tagged as an organisation.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from nlp.segment import stop_words

#: Suffixes that close an administrative unit (each unit becomes its own place).
ADMIN_SUFFIXES = ("自治州", "街道", "社区", "省", "市", "区", "县", "州", "镇", "乡", "村")
#: Suffixes of streets and compounds.
SITE_SUFFIXES = (
    "小区", "大道", "路", "街", "巷", "新城", "新村", "花园", "家园", "公寓", "山庄", "广场", "大厦", "苑", "华府",
    "湾", "城", "园", "里", "庭", "居", "港", "国际", "车站", "高铁站", "火车站", "机场", "码头", "公园",
)
_SUFFIX_WORDS = frozenset(ADMIN_SUFFIXES + SITE_SUFFIXES)
_GENERIC = frozenset("小区 社区 街道 路 街 村 区 市 县 镇 乡 省 州 巷 园 里 城 中心 公寓 花园 广场 大厦".split())
#: Generic words to drop from the end of a compound's name.
STRIP_SUFFIXES = ("小区",)
ORG_SUFFIXES = (
    "有限责任公司", "有限公司", "公司", "集团", "学校", "中学", "小学", "大学", "学院", "幼儿园", "医院", "卫生院",
    "诊所", "局", "委员会", "委", "办事处", "办", "中心", "银行", "派出所", "法院", "检察院", "政府", "厂", "超市",
    "分局", "支队", "大队", "所", "站", "处", "协会", "酒店", "物业",
)
#: Words that are never part of a name even if tagged as nouns.
_NOT_NAME = frozenset(
    "我们 你们 他们 本 该 这 那 此 各 每 附近 周边 所在 所在地 整个 全 全市 全区 全县 一个 这个 那个 我 你 他 她 "
    "业主 居民 群众 村民 市民 老百姓 家长 学生 孩子 问题 情况 领导 政府 部门 工作人员 人员 地方 位置 旁边 门口 "
    "对面 里面 外面 进出 出入 通往 附属 下属 相关 有关 当地 本地 我市 我区 我县 本市 本区 本县 我村 本村 反映 位于 住在 "
    "投诉 举报 咨询 建议 请求 要求 希望 居住 家住 来到 前往 经过 路过 靠近 紧邻 就是 属于 开车 坐车 "
    "公司 物业公司 物业 学校 医院 政府 开发商 单位 部门 银行 超市 酒店 中心 小区 社区 街道 村 路 马路 小镇 家乡 "
    "老家 城市 农村 乡村 县城 城区 市区 郊区 公寓 花园 广场 公园 幼儿园 校园 市政府 区政府 县政府 省政府 片区 家庭 "
    "城乡 沿路 顺路 社会 国家 全国 全省 地区 区域 辖区 园区 景区 校区 厂区 住宅区 生活区".split()
)
_NAME_POS = ("ns", "nr", "nz", "nt", "n", "j", "eng", "m", "x", "nrt", "nrfg", "ng", "b", "an")
_MASKED = re.compile(r"^[A-Z]\d{0,3}(?:市|区|县|州|镇|乡)$")
_FUNCTION_POS = frozenset("uj ul uz uv ud ug u p c r d y e o f q t z zg ad ag a x w".split())
_PUNCT = re.compile(r"^[^\w]+$")
MAX_RUN = 4
MAX_CHARS = 16


def _name_like(word: str, pos: str) -> bool:
    if word in _NOT_NAME or word in stop_words() or _PUNCT.match(word):
        return False
    if pos == "m" and not word.isdigit() and not re.search(r"\d", word):
        return False
    return pos.startswith(_NAME_POS) or bool(_MASKED.match(word))


def _ends_with(word: str, suffixes: Sequence[str]) -> str | None:
    for s in suffixes:
        if word.endswith(s):
            return s
    return None


def _split_admin(words: list[str]) -> list[str]:
    """Consecutive words cut after each administrative suffix: one place per unit."""
    parts, current = [], ""
    for w in words:
        current += w
        if _MASKED.match(w) or (_ends_with(w, ADMIN_SUFFIXES) and len(current) >= 2):
            parts.append(current)
            current = ""
    if current:
        parts.append(current)
    return parts


def normalise_place(name: str) -> str:
    for s in STRIP_SUFFIXES:
        if name.endswith(s) and len(name) - len(s) >= 2:
            return name[: -len(s)]
    return name


def _valid_place(name: str) -> bool:
    if len(name) < 2 or name in _NOT_NAME or name in ADMIN_SUFFIXES or name in SITE_SUFFIXES:
        return False
    bare = name
    for s in ADMIN_SUFFIXES + SITE_SUFFIXES:
        if bare.endswith(s):
            bare = bare[: -len(s)]
            break
    return bool(bare) and bare not in _NOT_NAME and not bare.isdigit() or bool(_MASKED.match(name))


def _may_lead(word: str, pos: str) -> bool:
    """The word right before a suffix word may be any content word (jieba often mis-tags new names)."""
    if word in _NOT_NAME or word in stop_words() or _PUNCT.match(word) or pos in _FUNCTION_POS:
        return False
    return not (pos.startswith("v") and len(word) > 2)


def _runs(tagged: Sequence[tuple[str, str]], closes, is_inner_stop, verbs: bool = True) -> list[list[str]]:
    """For each closing word, the words before it that belong to its name (longest form only)."""
    found = []
    n = len(tagged)
    for k in range(n):
        word, pos = tagged[k]
        if not closes(word, pos):
            continue
        if k + 1 < n and closes(*tagged[k + 1]) and not _MASKED.match(tagged[k + 1][0]):
            continue  # 桂花坪 + 街道: take the longer name only
        words = [word]
        j = k
        if _MASKED.match(word):  # a masked code (A市, A2区) is a whole name already
            found.append(words)
            continue
        while j > 0 and len(words) < MAX_RUN:
            w, p = tagged[j - 1]
            if is_inner_stop(w, p):
                break
            leading = len(words) == 1 or all(x in _SUFFIX_WORDS for x in words)
            verb_ok = verbs and words[0] not in _GENERIC  # 丽发|新城 yes, 退出|小区 no
            if not (_MASKED.match(w) or (leading and _may_lead(w, p) and (verb_ok or not p.startswith("v")))
                    or _name_like(w, p)):
                break
            if len("".join(words)) + len(w) > MAX_CHARS:
                break
            words.insert(0, w)
            j -= 1
        found.append(words)
    return found


def _closes_place(word: str, pos: str) -> bool:
    # jieba tags many unknown two-character words ``ns``: only longer ones count on the tag alone
    return (pos == "ns" and len(word) >= 3) or bool(_MASKED.match(word)) or bool(_ends_with(word, ADMIN_SUFFIXES + SITE_SUFFIXES))


def _closes_org(word: str, pos: str) -> bool:
    return (pos == "nt" and len(word) >= 3) or bool(_ends_with(word, ORG_SUFFIXES))


def _org_word(word: str, pos: str) -> bool:
    return bool(_ends_with(word, ORG_SUFFIXES)) and word not in ("中心",)


def places(tagged: Sequence[tuple[str, str]], limit: int = 10) -> list[str]:
    """Normalised place names in order of first mention, each once."""
    out: dict[str, None] = {}
    tagged = [("街道", "n") if w in ("街道办事处", "街道办") else (w, p) for w, p in tagged]
    for words in _runs(tagged, _closes_place, _org_word):
        for part in _split_admin(words):
            name = normalise_place(part)
            if _valid_place(name) and not _ends_with(name, ORG_SUFFIXES[:12]):
                out.setdefault(name, None)
    return list(out)[:limit]


def organisations(tagged: Sequence[tuple[str, str]], limit: int = 10) -> list[str]:
    out: dict[str, None] = {}
    for words in _runs(tagged, _closes_org, _org_word, verbs=False):
        name = "".join(words)
        if len(name) >= 3 and name not in _NOT_NAME:
            out.setdefault(name, None)
    return list(out)[:limit]
