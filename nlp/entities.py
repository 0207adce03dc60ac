"""Places and organisations from part-of-speech-tagged words, normalised so one place counts once.

A place is a run of name-like words closed by a place suffix (市/区/县/街道/镇/社区/村/小区/路 …,
or a word jieba tags as a place name). The run is split into its parts (``A市A2区桂花坪街道`` ->
``A市``, ``A2区``, ``桂花坪街道``; ``汇金路五矿万境K9县`` -> ``汇金路``, ``五矿万境``, ``K9县``) and a
residential compound loses its generic ``小区`` suffix, so ``A2区丽发新城小区`` and ``丽发新城`` both
give ``丽发新城``. An organisation is a run closed by 公司, 学校, 局, 医院 … , by a business word
(车贷, 财富, 地产 …) after a brand, or a word tagged as an organisation.

Fragments are kept out by three rules: a run never starts with a quantity, time word, pronoun,
preposition, adverb or a long verb (几天星河湾 -> 星河湾, 很多邻居 -> nothing); a common two-character
word that merely ends in a suffix character (铁路, 邻居, 城区) closes nothing; and a province, city,
district or county (省/市/区/县) needs a proper-name stem (西地省 yes, 主管部门省 no).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from nlp.segment import stop_words

#: Suffixes that close an administrative unit (each unit becomes its own place).
ADMIN_SUFFIXES = ("自治州", "街道", "社区", "省", "市", "区", "县", "州", "镇", "乡", "村")
#: Administrative units whose name must have a proper-name stem (省 alone, 部门省, 人多次向省 are no places).
BROAD_ADMIN = ("自治州", "省", "市", "区", "县", "州")
#: Suffixes of streets and compounds.
SITE_SUFFIXES = (
    "小区", "大道", "路", "街", "巷", "新城", "新村", "花园", "家园", "公寓", "山庄", "广场", "大厦", "苑", "华府",
    "湾", "城", "园", "里", "庭", "居", "港", "国际", "车站", "高铁站", "火车站", "机场", "码头", "公园",
)
#: A run is also cut after a road: 汇金路五矿万境 is a road and an estate.
ROAD_SUFFIXES = ("大道", "路", "街", "巷")
_SUFFIX_WORDS = frozenset(ADMIN_SUFFIXES + SITE_SUFFIXES)
_GENERIC = frozenset("小区 社区 街道 路 街 村 区 市 县 镇 乡 省 州 巷 园 里 城 中心 公寓 花园 广场 大厦".split())
#: Generic words to drop from the end of a compound's name.
STRIP_SUFFIXES = ("小区",)
ORG_SUFFIXES = (
    "有限责任公司", "有限公司", "公司", "集团", "学校", "中学", "小学", "大学", "学院", "幼儿园", "医院", "卫生院",
    "诊所", "局", "委员会", "委", "办事处", "办", "中心", "银行", "派出所", "法院", "检察院", "政府", "厂", "超市",
    "分局", "支队", "大队", "所", "站", "处", "协会", "酒店", "物业",
)
#: Business words that close an organisation only after a brand (58车贷, 湖楚财富, 恒大地产; not 社会财富).
BUSINESS_SUFFIXES = (
    "车贷", "网贷", "财富", "金融", "理财", "资本", "控股", "置业", "地产", "投资", "科技", "商贸", "传媒", "物流",
)
#: Words that are never part of a name even if tagged as nouns.
_NOT_NAME = frozenset(
    "我们 你们 他们 本 该 这 那 此 各 每 附近 周边 所在 所在地 整个 全 全市 全区 全县 一个 这个 那个 我 你 他 她 "
    "业主 居民 群众 村民 市民 老百姓 家长 学生 孩子 问题 情况 领导 政府 部门 工作人员 人员 地方 位置 旁边 门口 "
    "对面 里面 外面 进出 出入 通往 附属 下属 相关 有关 当地 本地 我市 我区 我县 本市 本区 本县 我村 本村 反映 位于 住在 "
    "投诉 举报 咨询 建议 请求 要求 希望 居住 家住 来到 前往 经过 路过 靠近 紧邻 就是 属于 开车 坐车 "
    "公司 物业公司 物业 学校 医院 政府 开发商 单位 部门 银行 超市 酒店 中心 小区 社区 街道 村 路 马路 小镇 家乡 "
    "老家 城市 农村 乡村 县城 城区 市区 郊区 公寓 花园 广场 公园 幼儿园 校园 市政府 区政府 县政府 省政府 片区 家庭 "
    "城乡 沿路 顺路 社会 国家 全国 全省 地区 区域 辖区 园区 景区 校区 厂区 住宅区 生活区 宿舍区 办公区 "
    # nouns that start fragments (距铁路中心, 人多次向省, 主管部门省, 受害者怀疑西地省, 项目由省, 平台一处)
    "距 离 人 本人 个人 受害者 受害人 项目 主管部门 主管 官员 平台 进展 目前 为止 临街 沿街 临路 垃圾 高端 别墅 房东 "
    "二房东 安居 同时 时间 期间 以后 以前 之前 之后 当时 现在 今年 去年 明年 每天 天天 大家 邻居 全体 所有 多名 "
    "多位 多个 部分 有限公司 有限责任公司 股份有限公司 地面 高架桥 城中村 公共场所 营业场所 加油站 交汇处 "
    "施工队 住院部 严肃查处 普通家庭 普惠 普惠性 普惠制 普惠型 营利性 非营利性 民办 公办 私立 公立 私人 国营 国有 "
    "市属 区属 县属 省属".split()
)
_NAME_POS = ("ns", "nr", "nz", "nt", "n", "j", "eng", "m", "x", "nrt", "nrfg", "ng", "b", "an")
#: Tags that mark a proper name (or a word jieba only knows as part of names).
_PROPER_POS = frozenset("ns nr nz nt j eng nrt nrfg ng".split())
_MASKED = re.compile(r"^[A-Z]\d{0,3}(?:市|区|县|州|镇|乡)$")
#: Parts of speech that never lead a name: quantities, time words, pronouns, prepositions, adverbs …
_FUNCTION_POS = frozenset("uj ul uz uv ud ug u p c r d y e o f q t tg z zg ad ag a x w mq i l".split())
#: Quantities and counts (几天, 很多, 一处, 多次, 两个): never the start of a name (第一中学, 万家丽路 are names).
_QUANTITY = re.compile(r"^(?:[几多很好数一二两三四五六七八九十半每各整全些这那])|[天次个处些番回遍]$")
_PUNCT = re.compile(r"^[^\w]+$")
_DIGIT = re.compile(r"\d")
#: Last characters of geographic names: a dictionary word jieba tags ``ns`` is a place on its tag alone
#: only when it ends like one (捞刀河, 清水塘 yes; 入户门, 依法治国, 之日起 no).
_GEO_END = frozenset("湖河岭塘湾洲山坡港岛江坪冲铺垸岗洞峰溪潭岸滩堤寨庄屯营堡店桥阁亭台楼宫府寺园城镇村里庭苑居墅邸郡都汇荟谷林源泉湘")
MAX_RUN = 4
MAX_CHARS = 16


@lru_cache(maxsize=1)
def _known():
    """``has_word`` of the segmenter's dictionary: a word it does not know is most likely a new name."""
    from nlp.segment import _segmenter
    return _segmenter().has_word


def _in_dictionary(word: str) -> bool:
    try:
        return bool(_known()(word))
    except Exception:  # noqa: BLE001 - the dictionary test is a refinement
        return True


def _name_like(word: str, pos: str) -> bool:
    if word in _NOT_NAME or word in stop_words() or _PUNCT.match(word):
        return False
    if pos.startswith("m") and not _DIGIT.search(word):
        return False  # 几天, 很多, 一处: quantities are no names, numbers are (58车贷, 3号院)
    return pos.startswith(_NAME_POS) or bool(_MASKED.match(word))


def _ends_with(word: str, suffixes: Sequence[str]) -> str | None:
    for s in suffixes:
        if word.endswith(s):
            return s
    return None


def _proper(word: str, pos: str) -> bool:
    """A word that can carry a name: a proper-name tag, a masked code, digits or letters, or a word the
    dictionary does not know (丽发, 湖楚 are names; 部门, 铁路 are not)."""
    if word in _NOT_NAME or _PUNCT.match(word):
        return False
    return (pos in _PROPER_POS or bool(_MASKED.match(word)) or bool(_DIGIT.search(word))
            or bool(re.search(r"[A-Za-z]", word)) or not _in_dictionary(word))


def _split_parts(words: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Consecutive words cut after each administrative unit, masked code and road: one place per part."""
    parts, current = [], []
    for i, (w, p) in enumerate(words):
        if _MASKED.match(w) and current:
            parts.append(current)  # 五矿万境 | K9县: the name before a masked code is a part of its own
            current = []
        current.append((w, p))
        name = "".join(x for x, _ in current)
        last = i == len(words) - 1
        if (_MASKED.match(w) or (_ends_with(w, ADMIN_SUFFIXES) and len(name) >= 2)
                or (not last and _ends_with(w, ROAD_SUFFIXES) and len(name) >= 3)):
            parts.append(current)
            current = []
    if current:
        parts.append(current)
    return parts


#: A unit jieba glued to the suffix of the unit before it (A8县 + 市资福镇 for A8县市 + 资福镇): the leading
#: character goes when what remains is a whole lower-level unit (市中区 stays: 中区 is too short).
_GLUED_LEAD = re.compile(r"^[市县区]([\u4e00-\u9fff]{2,}(?:镇|乡|村|街道|社区))$")


def normalise_place(name: str) -> str:
    glued = _GLUED_LEAD.match(name)
    if glued:
        name = glued.group(1)
    for s in STRIP_SUFFIXES:
        if name.endswith(s) and len(name) - len(s) >= 2:
            return name[: -len(s)]
    return name


def _valid_place(name: str) -> bool:
    if len(name) < 2 or name in _NOT_NAME or name in ADMIN_SUFFIXES or name in SITE_SUFFIXES:
        return False
    if _MASKED.match(name):
        return True
    bare, suffix = name, None
    for s in ADMIN_SUFFIXES + SITE_SUFFIXES:
        if bare.endswith(s):
            bare, suffix = bare[: -len(s)], s
            break
    if suffix is not None and len(suffix) == 1 and suffix not in ADMIN_SUFFIXES and len(name) < 3:
        return False  # 临街, 东路: one character before a one-character suffix is no name
    return bool(bare) and bare not in _NOT_NAME and not bare.isdigit()


def _part_ok(part: list[tuple[str, str]], closed: bool) -> bool:
    """A part of a run is a place: broad administrative units and unsuffixed names need a proper stem."""
    name = "".join(w for w, _ in part)
    if len(part) == 1 and _MASKED.match(name):
        return True
    last_word, last_pos = part[-1]
    if _ends_with(name, BROAD_ADMIN) and not _ends_with(name, ("社区", "街道", "小区", "园区", "校区", "景区")):
        if (last_pos == "ns" or (last_pos in _PROPER_POS and len(part) == 1)) and len(last_word) >= 3:
            return True  # 长沙市, 西地省 as one word; 岳麓区 too, which jieba tags as a person's name
        return any(_proper(w, p) for w, p in part[:-1]) or (len(last_word) > 1 and _proper(last_word[:-1], "x"))
    if not closed:  # the name before a masked code (五矿万境 K9县): no suffix, so a proper name and 3+ characters
        return len(name) >= 3 and any(_proper(w, p) for w, p in part)
    return True


def _may_lead(word: str, pos: str) -> bool:
    """The word right before a suffix word may be any content word (jieba often mis-tags new names)."""
    if word in _NOT_NAME or word in stop_words() or _PUNCT.match(word) or pos in _FUNCTION_POS:
        return False
    if pos.startswith("m") and not _DIGIT.search(word) and _QUANTITY.search(word):
        return False
    return not (pos.startswith("v") and len(word) > 2)


def _runs(tagged: Sequence[tuple[str, str]], closes, is_inner_stop, verbs: bool = True,
          masked_runs: bool = False) -> list[list[tuple[str, str]]]:
    """For each closing word, the words before it that belong to its name (longest form only)."""
    found = []
    n = len(tagged)
    for k in range(n):
        word, pos = tagged[k]
        masked = bool(_MASKED.match(word))
        if not closes(word, pos):
            continue
        if k + 1 < n and closes(*tagged[k + 1]) and not _MASKED.match(tagged[k + 1][0]):
            continue  # 桂花坪 + 街道: take the longer name only
        words = [(word, pos)]
        j = k
        if masked and not masked_runs:  # a masked code (A市, A2区) is a whole name already
            found.append(words)
            continue
        while j > 0 and len(words) < MAX_RUN:
            w, p = tagged[j - 1]
            if is_inner_stop(w, p):
                break
            head = [x for x, _ in words]
            if w == "之" and j > 1 and head[0] in _SUFFIX_WORDS and _name_like(*tagged[j - 2]):
                words.insert(0, (w, p))  # 魅力之城, 幸福之家
                j -= 1
                continue
            # only a bare or short suffix word (新城, 小区, 东路) takes a mis-tagged leading word: a whole name
            # (星河湾, 西地省) does not grow into 几天星河湾 / 怀疑西地省
            leading = not masked and ((len(words) == 1 and len(word) <= 2) or all(x in _SUFFIX_WORDS for x in head))
            verb_ok = verbs and head[0] not in _GENERIC  # 丽发|新城 yes, 退出|小区 no
            if not (_MASKED.match(w) or (leading and _may_lead(w, p) and (verb_ok or not p.startswith("v")))
                    or _name_like(w, p)):
                break
            if len("".join(head)) + len(w) > MAX_CHARS:
                break
            words.insert(0, (w, p))
            j -= 1
        found.append(words)
    return found


def _closes_place(word: str, pos: str) -> bool:
    if _MASKED.match(word) or word in ADMIN_SUFFIXES or word in SITE_SUFFIXES:
        return True
    if word in _NOT_NAME:
        return False
    # jieba tags many unknown two-character words ``ns``: only longer ones count on the tag alone
    if pos == "ns" and len(word) >= 3 and (word[-1] in _GEO_END or not _in_dictionary(word)):
        return True
    suffix = _ends_with(word, ADMIN_SUFFIXES + SITE_SUFFIXES)
    if suffix is None:
        return False
    if word == suffix or len(word) >= len(suffix) + 2:
        return True
    # a two-character word ending in a suffix: 东路 (a name's tail) yes, 铁路 / 邻居 (common words) no
    return pos in _PROPER_POS or not _in_dictionary(word) or suffix in ("小区", "社区", "街道", "新城", "花园", "家园")


def _closes_org(word: str, pos: str) -> bool:
    if (pos.startswith("m") and not _DIGIT.search(word)) or pos in ("q", "d", "r", "p"):
        return False  # 一处, 此处
    return (pos == "nt" and len(word) >= 3) or bool(_ends_with(word, ORG_SUFFIXES))


def _org_word(word: str, pos: str) -> bool:
    return bool(_ends_with(word, ORG_SUFFIXES)) and word not in ("中心",)


#: After an administrative unit (A1区, 雨花区, 暮云镇), the characters up to a unit suffix are the next unit's name
#: (德政园社区, 暮云镇 + 南托街道), and those before a building number an estate's (鑫源和诚8栋, 商贸二区七栋): read on the
#: characters, because jieba cuts such new names across their ends (德政|园, 镇南|托, 鑫源|和|诚).
_UNIT_AFTER_AREA = re.compile(r"([\u4e00-\u9fff]{2,6}?)(社区|街道|镇|乡|村)")
_ESTATE_BEFORE_BUILDING = re.compile(r"([\u4e00-\u9fff]{2,6}?)(?:\d{1,3}|[一二三四五六七八九十]{1,3})(?:栋|幢|号楼)")
#: Characters that never stand inside such a name (particles, pronouns, verbs of a sentence).
_NOT_IN_NAME = frozenset("的了在是我你他她们有对把被从向给说要这那些个也都就还很不没将已让使为于其而并但与及或到去来")
#: Characters that never start one (A8县市资福镇: 市 closes the county-level city; L3县和筲箕湾镇: a conjunction).
_NOT_FIRST = frozenset("和市县区省州")
#: Common words that start with a unit suffix: 竹山组村民 is 竹山组 + 村民, not a village 竹山组村.
_SUFFIX_LED_WORDS = frozenset("村民 村里 村委 村委会 村组 村级 村道 村部 村庄 村子 乡村 乡镇 乡里 乡亲 镇上 镇里 社区居民".split())


def _area_end(word: str, pos: str) -> bool:
    """An administrative unit word (A1区, 雨花区, 黄花镇) that the next unit or estate name may follow."""
    if _MASKED.match(word):
        return True
    return pos == "ns" and len(word) >= 3 and word[-1] in "市区县镇乡"


def _names_after_areas(tagged: Sequence[tuple[str, str]]) -> list[tuple[int, str]]:
    """(position, name) of unit and estate names right after an administrative unit, read on the characters."""
    found: list[tuple[int, str]] = []
    spans, starts, offset = [], [], 0
    for w, p in tagged:
        spans.append((offset, offset + len(w), w, p))
        offset += len(w)
        if _area_end(w, p):
            starts.append(offset)
    text = "".join(w for w, _ in tagged)

    def sentence_word_inside(a: int, b: int) -> bool:
        # a whole word of the sentence inside the name (居民 反映 | 社区): no name
        return any(a <= x and y <= b and len(w) > 1 and (w in _NOT_NAME or w in stop_words() or p.startswith("v"))
                   for x, y, w, p in spans)

    for start in starts:
        at = start
        while at < len(text):
            unit = _UNIT_AFTER_AREA.match(text, at)
            match = unit or _ESTATE_BEFORE_BUILDING.match(text, at)
            if match is None:
                break
            stem = match.group(1)
            suffix_at = at + len(stem)
            if (set(stem) & _NOT_IN_NAME or stem[0] in _NOT_FIRST or stem in _NOT_NAME or _QUANTITY.search(stem)
                    or sentence_word_inside(at, suffix_at)
                    or any(x == suffix_at and w in _SUFFIX_LED_WORDS for x, _y, w, _p in spans)
                    or (match is unit and _ends_with(stem, ADMIN_SUFFIXES))):
                break
            name = match.group(0) if match is unit else stem
            if _valid_place(name):
                found.append((at, name))
            if match is not unit:
                break
            at = match.end()  # 暮云镇 then 南托街道
    return found


def places(tagged: Sequence[tuple[str, str]], limit: int = 10) -> list[str]:
    """Normalised place names in order of first mention, each once."""
    out: dict[str, None] = {}
    tagged = [("街道", "n") if w in ("街道办事处", "街道办") else (w, p) for w, p in tagged]
    for words in _runs(tagged, _closes_place, _org_word, masked_runs=True):
        parts = _split_parts(words)
        for i, part in enumerate(parts):
            closed = i == len(parts) - 1 or _closes_place(*part[-1])
            if not _part_ok(part, closed):
                continue
            if i < len(parts) - 1 and not closed and not _MASKED.match(parts[i + 1][0][0]):
                continue
            name = normalise_place("".join(w for w, _ in part))
            if _valid_place(name) and not _ends_with(name, ORG_SUFFIXES[:12]):
                out.setdefault(name, None)
    extra = [(at, normalise_place(name)) for at, name in _names_after_areas(tagged)]
    extra = [(at, name) for at, name in extra if not any(name in other or other in name for other in out)]
    if extra:  # merged in order of first mention
        text = "".join(w for w, _ in tagged)
        ranked = [(text.find(name), name) for name in out] + extra
        out = dict.fromkeys(name for _, name in sorted(ranked, key=lambda x: x[0]))
    return list(out)[:limit]


def _business_names(tagged: Sequence[tuple[str, str]]) -> list[str]:
    """Brand + business word (58车贷, 湖楚财富): the brand must be a proper name, a number or unknown word."""
    found = []
    for k, (word, pos) in enumerate(tagged):
        if k == 0 or word not in BUSINESS_SUFFIXES:
            continue
        brand, bpos = tagged[k - 1]
        if brand in _NOT_NAME or _MASKED.match(brand) or brand in stop_words() or bpos in _FUNCTION_POS - {"m", "x"} or not _proper(brand, bpos):
            continue
        if bpos.startswith("m") and not _DIGIT.search(brand):
            continue
        if len(brand) < 2 and not _DIGIT.search(brand):
            continue
        found.append(brand + word)
    return found


def _org_ok(words: list[tuple[str, str]]) -> bool:
    """An organisation needs a proper-name stem: 湘雅医院, A市住建局, 广铁集团 yes; 交汇处, 铁路中心, 党中央 no."""
    name = "".join(w for w, _ in words)
    if len(name) < 3 or name in _NOT_NAME:
        return False
    if len(words) == 1:
        suffix = _ends_with(name, ORG_SUFFIXES)
        if suffix is None:
            return not _in_dictionary(name)  # a new word tagged as an organisation
        stem = name[: -len(suffix)]
        if re.fullmatch(r"[\d.]*[a-z]*[米号个层楼栋]?", stem):
            return False  # 30米处, 26处
        if stem in _NOT_NAME:
            return False
        if _proper(stem, "x"):
            return True
        from nlp.segment import _segmenter  # a known stem: a name when the dictionary tags it as one (湘雅 yes, 交汇 no)
        return all(p in _PROPER_POS for _, p in _segmenter().tag(stem))
    return any(_proper(w, p) for w, p in words[:-1])


def organisations(tagged: Sequence[tuple[str, str]], limit: int = 10) -> list[str]:
    out: dict[str, None] = {}
    for words in _runs(tagged, _closes_org, _org_word, verbs=False):
        if _org_ok(words):
            out.setdefault("".join(w for w, _ in words), None)
    for name in _business_names(tagged):
        out.setdefault(name, None)
    return list(out)[:limit]
