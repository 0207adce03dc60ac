"""What the hot-topic engine reads from a document: terms, places, label, reporter, fingerprint.

The NLP stage (order 100) writes tokens, keywords, places, organisations and the simhash bands
onto the document; they are used as they are. A document the NLP stage has not analysed (the
NLP package missing, or a replay of old rows) gets a light fallback: segmentation and
keyword extraction with jieba and a place pattern, so the engine never stops on missing labels.
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy.orm import object_session

from core.models import Document

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: Administrative areas too broad to tie complaints together (A市, A2区, 西地省, 经开区…).
_GENERIC_PLACE = re.compile(r"^(?:[A-Z]\d{0,3}[市区县州镇乡]|.{1,3}[省市县]|.{0,3}(?:区|新区|开发区|经开区|高新区))$")
#: Fallback place pattern for documents without NLP places.
_PLACE = re.compile(
    r"([\u4e00-\u9fa5A-Za-z0-9]{2,8}?(?:小区|社区|新城|花园|家园|公寓|广场|大厦|村|街道|镇|大道|路|街|小学|中学|幼儿园|医院|公园|苑|湾))"
)
#: Words that show a fallback "place" match swallowed part of a sentence.
_NOT_PLACE = re.compile(r"政府|市委|希望|我们|本人|请问|关于|反映|建议|咨询|位于|我是|我们|领导|部门|一个|这个|没有|问题|什么|的|了|在|和|与|是")
_MASKED = re.compile(r"[A-Z]\d{0,3}[市区县州镇乡]")
_TERM_OK = re.compile(r"[\u4e00-\u9fffA-Za-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
#: Words frequent in every complaint: they say nothing about which problem it is.
_COMPLAINT_WORDS = frozenset(
    "问题 反映 投诉 举报 请求 希望 要求 情况 相关 部门 领导 政府 市民 群众 居民 业主 我们 你们 他们 "
    "咨询 请问 关于 建议 处理 解决 严重 影响 一直 没有 现在 目前 已经 能否 是否 为什么 什么 如何 "
    "怎么 可以 进行 工作 有关 尽快 给予 导致 存在 情况 多次 至今 市长 书记 您好 你好 谢谢 感谢 "
    "网友 留言 信访 一个 这个 那个 就是 还是 但是 因为 所以 而且 以及 并且 一系列 诸多 多个 许多 小区 管不了 "
    "不了 出现 发生 有人 关注".split()
)
TITLE_WEIGHT = 2.0
MAX_TERMS = 24


@dataclass
class DocFeatures:
    """The slice of a document the engine needs; also built from replayed rows in backtests."""

    document_id: int
    at: dt.datetime
    source: str
    title: str
    label: str | None = None
    sentiment: str | None = None
    risk_flags: list[str] = field(default_factory=list)
    reporter: str = ""
    likes: int = 0
    places: list[str] = field(default_factory=list)
    specific_places: list[str] = field(default_factory=list)
    organisations: list[str] = field(default_factory=list)
    terms: dict[str, float] = field(default_factory=dict)
    simhash: int | None = None
    bands: tuple[int | None, ...] = (None, None, None, None)

    @property
    def risk(self) -> bool:
        return bool(self.risk_flags)

    @property
    def negative(self) -> bool:
        return self.sentiment == "negative"

    @property
    def day(self) -> str:
        return local_day(self.at)


def local_day(at: dt.datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d")


def event_time(doc: Document) -> dt.datetime:
    """When the text was written: the published time when known, else when it entered."""
    at = doc.published_at or doc.created_at
    if at is None:
        from core.database import utcnow
        at = utcnow()
    return at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)


#: Administrative units of any length: provinces, cities, districts, counties, sub-districts, towns and
#: townships (暮云街道, 黄花镇, 问政西地省). Complaints about different estates of one sub-district are
#: different problems, so such a unit is never a topic's home place; a residential 小区 / 园区 is not one.
_ADMIN_UNIT = re.compile(r"(?:[省市县州]|(?<![小园校景社厂营])区|街道|街道办事处|办事处|镇|乡|乡镇)$")


def is_admin_area(place: str) -> bool:
    """An administrative area (A市, A2区, 西地省, 经开区, 暮云街道, 黄花镇): too broad to tie complaints together."""
    return bool(_GENERIC_PLACE.match(place)) or len(place) < 2 or bool(_ADMIN_UNIT.search(place))


#: Government bodies name who should act, not where: every complaint to 环保局 is not one problem.
_GOV_BODY = re.compile(r"(?:政府|政府办|办公室|委员会|[局厅委]|法院|检察院|派出所|大队|支队|中队|所|办)$")
#: Locative fragments the entity tagger sometimes returns (房间里, 时楼道里).
_LOCATIVE = re.compile(r"^.{1,4}[里内]$")
#: Metro and bus lines (3号线, 地铁3号线, 804路公交): they cross the city, so sharing one does not make complaints
#: about different stations one problem.
_TRANSIT_LINE = re.compile(r"(?:号线|[支专]线|公交线路?)$")
#: Proper place names this frequent in general Chinese are countries, provinces or big cities.
_BROAD_PLACE_FREQ = 1000


@lru_cache(maxsize=1)
def _dictionary() -> tuple[dict[str, str], dict[str, int]]:
    """jieba's part-of-speech table and word frequencies (empty when jieba is missing)."""
    try:
        import jieba
        import jieba.posseg
        jieba.setLogLevel(60)
        jieba.initialize()
        return jieba.posseg.dt.word_tag_tab, jieba.dt.FREQ
    except Exception:  # noqa: BLE001 - the dictionary test is a refinement; without it only the patterns apply
        return {}, {}


#: One-character words for a kind of business or facility: a common word before one (麻将馆, 加油站, 烧烤摊)
#: names a category found in every district, not one place. Estate endings (园, 苑, 城, 湾, 庭) are not here.
_FACILITY_SUFFIX = frozenset("馆站厂店场摊吧厅铺")
#: Part-of-speech tags of proper names in jieba's table (places, people, organisations, other names, abbreviations).
_PROPER_TAGS = frozenset(("ns", "nr", "nz", "nt", "nrt", "nrfg", "j"))


def is_category_place(place: str) -> bool:
    """A common word followed by a facility word (麻将馆, 麻将馆扰民, 加油站): a kind of place, not a place.

    Complaints about 麻将馆 at six estates are six problems; the word stays a term of the problem.
    """
    tags, _freq = _dictionary()
    for i in range(2, min(len(place), 5)):
        if place[i] in _FACILITY_SUFFIX:
            tag = tags.get(place[:i])
            if tag is not None and tag not in _PROPER_TAGS:
                return True
    return False


#: Endings of a role: a common word before one (申请人, 投诉人, 购房者, 开发方, 服务员) names who, not where.
_ROLE_SUFFIX = frozenset("人者方员")


def is_role_word(place: str) -> bool:
    """A common word followed by a role ending (申请人, 购房者): a kind of person, not a place.

    jieba's table tags 申请人 as a person's name, so the tagger took it once for a place; through the known-place
    index it then tied every text mentioning an applicant to one "place", across different questions.
    """
    if len(place) < 3 or place[-1] not in _ROLE_SUFFIX:
        return False
    tags, _freq = _dictionary()
    tag = tags.get(place[:-1])
    return tag is not None and tag not in _PROPER_TAGS


@lru_cache(maxsize=50_000)
def is_generic_place(place: str) -> bool:
    """No place of its own: an administrative area, a common noun (垃圾站, 线路, 有限公司), a government
    body (A市政府, 环保局), a locative fragment, a role (申请人), or a country or big city.

    Such strings must not glue complaints about different estates into one topic; real estates,
    roads and schools (丽发新城, 劳动东路, 郝家坪小学) are not dictionary words.
    """
    if is_admin_area(place) or _GOV_BODY.search(place) or _LOCATIVE.match(place) or is_category_place(place) \
            or is_role_word(place) or _TRANSIT_LINE.search(place) or not _CJK.search(place):
        return True
    tags, freq = _dictionary()
    tag = tags.get(place)
    if tag is None:
        return False
    if tag in ("ns", "nr", "nt", "nz", "nrt", "nrfg"):
        return tag == "ns" and freq.get(place, 0) > _BROAD_PLACE_FREQ
    return True


_PHASE = re.compile(r"^第?[一二三四五六七八九十\d]{1,3}[期栋号]$")
#: Kinds of estate: they say what sort of place it is (安置小区, 楼盘), not what is wrong there.
_PLACE_KIND = frozenset("小区 社区 安置 安置房 安置小区 楼盘 项目 片区 周边 附近".split())


@lru_cache(maxsize=50_000)
def is_place_word(word: str) -> bool:
    """A word that names where, not what: a place name in the dictionary (花都, 新城, 滨河), a phase or
    building number of an estate (五期, 第六期, 3栋) or a kind of estate (安置小区, 楼盘). Such words are left out
    of a topic's problem words."""
    if _PHASE.match(word) or word in _PLACE_KIND:
        return True
    tags, _freq = _dictionary()
    return tags.get(word) == "ns"


def normalise_place(place: str) -> str:
    """``A2区丽发新城小区`` -> ``丽发新城``: masked district prefix and estate suffix dropped."""
    place = place.strip()
    stripped = _MASKED.sub("", place)
    if stripped and stripped != place and len(stripped) >= 2:
        place = stripped
    for suffix in ("小区", "社区"):
        if place.endswith(suffix) and len(place) - len(suffix) >= 2:
            place = place[: -len(suffix)]
    return place


@lru_cache(maxsize=1)
def _segmenter():
    """``nlp.segment`` (tokenize, content_words) when the NLP package provides it, else jieba."""
    if importlib.util.find_spec("nlp.segment") is not None:
        from nlp import segment
        return segment.tokenize, segment.content_words
    import jieba
    jieba.setLogLevel(60)
    return (lambda text: [w for w in jieba.lcut(text) if w.strip()]), (lambda toks: toks)


_CODE_JUNK = re.compile(r"^(?:[A-Za-z]+\d*|[省市区县].+)$")


def _term_ok(term: str) -> bool:
    return (len(term) >= 2 and bool(_TERM_OK.search(term)) and term not in _COMPLAINT_WORDS and not term.isdigit()
            and not _CODE_JUNK.match(term))


@lru_cache(maxsize=1)
def _idf() -> dict[str, float]:
    """jieba's bundled IDF table (general Chinese): common words (政策, 公司) weigh less than 搅拌站."""
    try:
        import jieba.analyse
        return jieba.analyse.default_tfidf.idf_freq
    except Exception:  # noqa: BLE001 - weighting is a refinement; without it every word weighs 1
        return {}


def rarity(word: str) -> float:
    value = _idf().get(word)
    if value is None:
        return 1.3  # not in a general dictionary: a name or a local term, the most telling kind
    return min(1.3, max(0.3, value / 10.0))


def _in_place(word: str, places: set[str]) -> bool:
    return any(word in p for p in places)


#: Words of a specific place (丽发, 万境) count as terms at this share of their weight: a document whose
#: place the tagger missed still shares them with its topic, without the place outweighing the problem.
PLACE_TERM_FACTOR = 0.5


def _place_factor(word: str, places: set[str]) -> float:
    """0 for words of administrative areas (泉塘 of 泉塘街道: the place test handles them), a share for words
    of specific places, 1 for the rest (垃圾站 tagged as a place is still the problem)."""
    inside = [p for p in places if word in p]
    if not inside or is_category_place(word):
        return 1.0
    if any(is_admin_area(p) for p in inside):
        return 0.0
    return PLACE_TERM_FACTOR if any(not is_generic_place(p) for p in inside) else 1.0


#: Share of a compound's weight each of its parts gets (油烟扰民 -> 油烟, 扰民; 油烟味 -> 油烟), so 油烟扰民 and 噪音扰民
#: share 扰民.
PART_FACTOR = 0.5


@lru_cache(maxsize=1)
def _compound_splitter():
    """The segmenter's search mode (the words inside a long word), when the NLP package provides it."""
    try:
        from nlp.segment import _segmenter
        return _segmenter().cut_for_search
    except Exception:  # noqa: BLE001 - splitting compounds is a refinement
        return None


@lru_cache(maxsize=50_000)
def word_parts(word: str) -> tuple[str, ...]:
    split = _compound_splitter()
    if split is None or len(word) < 3:
        return ()
    return tuple(dict.fromkeys(p for p in split(word) if len(p) >= 2 and p != word and _term_ok(p)))


def build_terms(title_tokens: list[str], keywords: list[str], places: set[str]) -> dict[str, float]:
    """Weighted terms: title words count double, keywords by rank, both by rarity; place words count less;
    the parts of a long compound count too, at a share of its weight."""
    weights = _build_terms(title_tokens, keywords, places)
    for word, weight in list(weights.items()):
        for part in word_parts(word):
            weights[part] += weight * PART_FACTOR * min(1.0, rarity(part) / max(rarity(word), 0.3))
    top = weights.most_common(MAX_TERMS)
    return {w: round(v, 3) for w, v in top}


def _build_terms(title_tokens: list[str], keywords: list[str], places: set[str]) -> Counter[str]:
    weights: Counter[str] = Counter()
    for rank, word in enumerate(keywords[:15]):
        if _term_ok(word) and (factor := _place_factor(word, places)):
            weights[word] += (1.0 - 0.04 * rank) * rarity(word) * factor
    for word in title_tokens:
        if _term_ok(word) and not is_admin_area(word) and (factor := _place_factor(word, places)):
            weights[word] += TITLE_WEIGHT * rarity(word) * factor
    return weights


def _fallback_keywords(title: str, body: str) -> list[str]:
    import jieba.analyse
    return jieba.analyse.extract_tags(f"{title}。{title}。{body[:3000]}", topK=15)


def _fallback_places(text: str) -> list[str]:
    seen: list[str] = []
    for match in _PLACE.findall(text[:2000]):
        place = normalise_place(match)
        if _NOT_PLACE.search(place) or len(place) < 3:
            continue
        if place not in seen:
            seen.append(place)
    return seen[:6]


@lru_cache(maxsize=1)
def _light_analysis():
    """``nlp.pipeline.analyse_text`` (the NLP stage's own keywords and places, no model) when present."""
    if importlib.util.find_spec("nlp.pipeline") is not None:
        from nlp.pipeline import analyse_text
        return analyse_text
    return None


GAZETTEER_TOKENS = 300
GAZETTEER_CHUNK = 400


def _grams(tokens: list[str]) -> list[str]:
    """Runs of one to four consecutive words, 3-16 characters: the strings a known place could be."""
    out: dict[str, None] = {}
    for i in range(len(tokens)):
        name = ""
        for j in range(i, min(i + 4, len(tokens))):
            name += tokens[j]
            if len(name) > 16:
                break
            if len(name) >= 3 and _TERM_OK.search(name) and not _MASKED.fullmatch(name):
                out.setdefault(name, None)
    return list(out)


def known_names(session, tokens: list[str]) -> tuple[list[str], list[str]]:
    """Specific places and organisations of earlier documents (the hot-topic index's ``p:`` / ``o:`` keys) that
    this text names: a place the tagger found once is recognised wherever it is written the same way.

    Cost is bounded by the text's length (at most ``GAZETTEER_TOKENS`` words), not by the corpus.
    """
    from sqlalchemy import select
    from search.trends.models import TrendTopicKey
    grams = _grams(tokens)
    if not grams:
        return [], []
    keys = [f"p:{g}" for g in grams] + [f"o:{g}" for g in grams]
    found: set[str] = set()
    for i in range(0, len(keys), GAZETTEER_CHUNK):
        found.update(session.scalars(select(TrendTopicKey.key).where(TrendTopicKey.key.in_(keys[i:i + GAZETTEER_CHUNK]))
                                     .distinct()))
    return [g for g in grams if f"p:{g}" in found], [g for g in grams if f"o:{g}" in found]


#: An estate named in a title by its kind (原灰埠大市场小区, 楚天雅郡, 领东汇小区): the place the complaint is about.
_TITLE_ESTATE = re.compile(r"([\u4e00-\u9fa5A-Za-z0-9]{2,8}?(?:小区|花园|家园|公寓|新村|广场|大厦|苑|郡|府|庭|湾))")
#: Verbs and words a title starts with that the pattern must not swallow into a name.
_TITLE_LEAD = re.compile(r"^(?:在|到|从|对|投诉|举报|请求|要求|希望|建议|咨询|反映|关于|请问|再次|坚决|取缔|解决|我们|本人|我家|住在|位于)")


_AREA_HEAD = re.compile(r"^.*(?:街道|镇|乡|省)(?=.{3,})")
#: A road before the estate (劳动东路魅力之城): the estate is the place.
_ROAD_HEAD = re.compile(r"^.*(?:路|街|大道)(?=.{3,})")
#: Sentence words that show the pattern ran over a clause (我们小区, 希望小区).
_TITLE_NOT_PLACE = re.compile(r"政府|市委|希望|我们|本人|请问|关于|反映|建议|咨询|位于|我是|领导|部门|一个|这个|没有|问题|什么|的|了")


def title_estates(title: str, known: list[str]) -> list[str]:
    """Estates a title names that the tagger missed or cut short (国际广场 of 润和国际广场), each not already
    covered by a known place."""
    out: list[str] = []
    for match in _TITLE_ESTATE.findall(_MASKED.sub("，", title[:120])):
        name = normalise_place(_TITLE_LEAD.sub("", _ROAD_HEAD.sub("", _AREA_HEAD.sub("", match))))
        if len(name) < 3 or _TITLE_NOT_PLACE.search(name) or is_generic_place(name) or is_admin_area(name):
            continue
        if any(name in k for k in known + out):
            continue
        out.append(name)
    return out


#: Units a name is often written without (月亮岛街道 -> 月亮岛, 暮云镇 -> 暮云).
_AREA_UNIT = ("街道", "镇", "乡")


def area_stems(places: list[str]) -> set[str]:
    """Names of the text's own street and town areas written short (月亮岛 beside 月亮岛街道): the area, too broad to
    tie complaints about different estates in it together, even where the short form is a known place name."""
    return {p[: -len(unit)] for p in places for unit in _AREA_UNIT if p.endswith(unit) and len(p) - len(unit) >= 2}


def features_of(doc: Document) -> DocFeatures:
    """Features of a stored document, preferring what the NLP stage wrote."""
    tokenize, content = _segmenter()
    title = doc.title or ""
    title_tokens = doc.title_tokens.split() if doc.title_tokens is not None else None
    raw_places, keywords, organisations = doc.places, doc.keywords, doc.organisations
    simhash, bands = doc.simhash, (doc.sim_band0, doc.sim_band1, doc.sim_band2, doc.sim_band3)
    if keywords is None and (light := _light_analysis()) is not None:
        # Not analysed yet: the same extraction the NLP stage runs, without the classifier.
        found = light(title, doc.body or "")
        title_tokens = title_tokens if title_tokens is not None else found.title_tokens
        raw_places = raw_places if raw_places is not None else found.places
        keywords, organisations = found.keywords, organisations if organisations is not None else found.organisations
        if simhash is None:
            simhash, bands = found.simhash_signed, found.bands
    if title_tokens is None:
        title_tokens = content(tokenize(title))
    if raw_places is None:
        raw_places = _fallback_places(f"{title} {doc.body or ''}")
    organisations = [str(o) for o in (organisations or [])]
    session = object_session(doc)
    if session is not None and doc.id is not None:
        body_tokens = (doc.tokens or "").split()[:GAZETTEER_TOKENS] if doc.tokens is not None else \
            content(tokenize((doc.body or "")[:1000]))
        known_places, known_orgs = known_names(session, list(title_tokens) + ["。"] + body_tokens)
        raw_places = list(raw_places) + [p for p in known_places if p not in raw_places]
        organisations += [o for o in known_orgs if o not in organisations]
    raw_places = list(raw_places) + title_estates(title, [normalise_place(str(p)) for p in raw_places])
    places = []
    for p in raw_places:
        norm = normalise_place(str(p))
        if norm and norm not in places:
            places.append(norm[:100])
    specific = [p for p in places if not is_generic_place(p) and p not in area_stems(places)]
    if keywords is None:
        keywords = _fallback_keywords(title, doc.body or "")
    # Words of organisations count like words of places: a university or a company named by every complaint
    # about it does not make them one problem.
    terms = build_terms(title_tokens, [str(k) for k in keywords], set(places) | set(organisations))
    reporter = (doc.author or "").strip() or f"doc:{doc.id}"
    return DocFeatures(
        document_id=doc.id,
        at=event_time(doc),
        source=doc.source,
        title=title,
        label=doc.topic,
        sentiment=doc.sentiment,
        risk_flags=list(doc.risk or []) if doc.has_risk or doc.risk else [],
        reporter=reporter[:200],
        likes=max(0, doc.likes or 0),
        places=places[:8],
        specific_places=specific[:6],
        organisations=[o[:100] for o in organisations if not is_generic_place(o)][:5],
        terms=terms,
        simhash=simhash,
        bands=bands,
    )
