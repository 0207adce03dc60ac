"""Online hot-topic assignment: each document joins the best matching topic or starts a new one.

Cost per document is bounded whatever the corpus size: candidate topics come from an
inverted index (``trend_topic_keys``: specific places, organisations, top terms) read with a
per-key LIMIT over recently active topics, plus near-duplicates found through the documents'
simhash bands (also LIMITed). Each candidate is scored against its centroid (stored on the
topic), so no member list is ever scanned on the hot path. Topics bridged by a document whose
centroids agree are merged. As a topic grows (at each power of two from 8 to 512 members, so
the amortised cost stays constant) members that no longer fit the stronger centroid are split
out and placed again. Analysts can merge, split, rename and pin by hand (``service``).
"""
from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from dataclasses import dataclass, field

from functools import lru_cache

from sqlalchemy import TextClause, bindparam, case, delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from core.database import UTCDateTime
from core.masking import mask_personal_data
from core.models import Document
from search.trends.dbutil import upsert, upsert_many
from search.trends.features import DocFeatures, features_of, is_category_place, is_generic_place, is_place_word
from search.trends.models import HotTopic, TrendCount, TrendMember, TrendMemberPlace, TrendTopicKey

CENTROID_TERMS = 60
PLACES_KEPT = 12
KEY_LIMIT = 12
CANDIDATES = 20
BAND_LIMIT = 30
#: Automatic split checks run at each power of two between these sizes.
SPLIT_MIN, SPLIT_MAX = 8, 512


@dataclass
class Assignment:
    topic: HotTopic
    created: bool
    score: float
    merged: list[int]
    new_member: bool
    #: Members split out of the topic by the automatic check: document id -> the topic it went to.
    moved: dict[int, int] = field(default_factory=dict)


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    dot = sum(w * large.get(t, 0.0) for t, w in small.items())
    if dot <= 0:
        return 0.0
    na = math.sqrt(sum(w * w for w in a.values()))
    nb = math.sqrt(sum(w * w for w in b.values()))
    return dot / (na * nb)


def specific(places) -> set[str]:
    return {p for p in places if not is_generic_place(p)}


def same_name(a: str, b: str) -> bool:
    """Two spellings of one place: one containing the other (伊景园 / 伊景园滨河苑), one the start of the other
    (丽发 / 丽发新城), or a long common start (伊景园滨河院 / 伊景园滨河苑, a typing slip)."""
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) >= 3 and short in long_:
        return True
    if len(short) >= 2 and long_.startswith(short):
        return True
    common = 0
    for x, y in zip(a, b):
        if x != y:
            break
        common += 1
    return common >= 4


def shares_place(mine: set[str], theirs: set[str]) -> bool:
    """A place in common, spelling variants counting too (``same_name``)."""
    if mine & theirs:
        return True
    return any(same_name(a, b) for a in mine for b in theirs)


#: Words that say how grave a complaint is, not what is wrong: a hazard of open corridors and a hazard of a
#: neighbouring building site at one estate are two problems. Left out of the problem words with the places.
SEVERITY_WORDS = frozenset("安全隐患 隐患 安全 危险 严重".split())
#: Words that say only that a rule is broken, not which: a restaurant opened against the rules (违规开餐饮) and
#: cars parked against them (违规停车) at one estate are two problems. Left out of the problem words as well.
LAWLESS_WORDS = frozenset("违规 违法 非法 违反 违纪".split())
#: Words that only press for action, not say on what: one parent's proposals about one school (加快教育均衡,
#: 加快学校周边安全整治, 加快校园食品安全监管 … 刻不容缓) are several problems. Left out of the problem words too.
URGING_WORDS = frozenset("加快 尽快 抓紧 加大 加强 力度 刻不容缓 不容 迫在眉睫 亟待 亟需 急需 立即 马上 进一步 早日".split())


def problem_terms(terms: dict[str, float], names: set[str], own: set[str] = frozenset()) -> dict[str, float]:
    """The terms that say what the problem is: words of the named places and organisations, other place
    words (花都, 五期), words of gravity (安全隐患), of lawlessness (违规) and of urging (加快, 刻不容缓) left out,
    so that two complaints about one estate agree only if their problems do.

    ``own``: names only the document gives; a kind of facility inside one of them stays (搅拌站 of a business the
    tagger found as 新城搅拌站 is what the complaint is about), while inside the shared place it goes (火车站 of
    A市火车站 is where, not what)."""
    def place_word(t: str) -> bool:
        if t in SEVERITY_WORDS or t in LAWLESS_WORDS or t in URGING_WORDS or is_place_word(t) \
                or any(t in n for n in names):
            return True
        return any(t in n for n in own) and not is_category_place(t)
    return {t: w for t, w in terms.items() if not place_word(t)}


def problem_similarity(a: dict[str, float], b: dict[str, float], names: set[str], own: set[str] = frozenset()) -> float:
    return cosine(problem_terms(a, names, own), problem_terms(b, names, own))


#: Problem families: words that, written about one estate, name parts of one problem. Owners of one estate
#: complain about its building and its handover in many words (墙壁开裂, 负一楼面积缩水, 交房后水电未通, 露钢空鼓
#: 消防隐患, 开发商虚假宣传) that share no word with each other; against the developer they are one case.
#: Used only between a document and a topic (or two topics) that name the same estate or business.
PROBLEM_FAMILIES: dict[str, frozenset[str]] = {
    "房屋质量与交付": frozenset(
        "质量 房屋质量 工程质量 质量问题 建房 建筑质量 施工方 施工单位 开裂 裂缝 裂纹 断裂 墙壁 墙面 外墙 墙体 楼板 吊顶 "
        "渗水 漏水 渗漏 空鼓 露钢 钢筋 偷工减料 豆腐渣 建筑材料 交房 交付 延期交房 收房 验房 竣工 验收 整改 "
        "面积 缩水 公摊 户型 户型图 虚假宣传 虚假 欺骗 货不对板 水电 临时水电 通水 通电 消防 消防设施 "
        "质检 质监 房屋 房子 新房 楼盘 精装 精装修 装修 维修 返修 地下室 车库".split()),
    # Whether the estate's children get a school or kindergarten place: 孩子上学, 小孩就近读书, 学区划分 and 学位 of
    # one estate are one problem there. Not the school's fees, opening date, nature (公办 / 普惠) or teachers,
    # and not 孩子 / 小孩 alone (a child coughing from fumes is no school question).
    "入学与学位": frozenset(
        "上学 入学 就近入学 读书 就读 就近 学区 学区房 学区划分 划分 划片 学位 入园 转学 插班 学籍 生源 对口".split()),
}
#: Least share of a text's problem words that must fall in one family for the family to count.
FAMILY_MIN_SHARE = 0.3


def family_shares(terms: dict[str, float]) -> dict[str, float]:
    """Share of the (problem) terms' weight that falls in each problem family."""
    total = sum(terms.values())
    if total <= 0:
        return {}
    out = {}
    for name, words in PROBLEM_FAMILIES.items():
        inside = sum(w for t, w in terms.items() if t in words)
        if inside > 0:
            out[name] = inside / total
    return out


def family_similarity(a: dict[str, float], b: dict[str, float], names: set[str], own: set[str] = frozenset()) -> float:
    """How far two texts' problem words both fall in one problem family: the smaller share, 0 when either is
    below ``FAMILY_MIN_SHARE`` (a word of the family in passing does not make a complaint about the building)."""
    sa, sb = family_shares(problem_terms(a, names, own)), family_shares(problem_terms(b, names, own))
    best = 0.0
    for name in sa.keys() & sb.keys():
        low = min(sa[name], sb[name])
        if low >= FAMILY_MIN_SHARE:
            best = max(best, low)
    return best


def same_site_problem_similarity(a: dict[str, float], b: dict[str, float], names: set[str], cfg: dict[str, float],
                                 own: set[str] = frozenset()) -> float:
    """Problem similarity of two texts about one estate or business: the problem-word cosine, or, when higher, the
    shared problem family's share times ``family_weight`` (cracked walls and a shrunken basement of one estate)."""
    s = problem_similarity(a, b, names, own)
    weight = cfg.get("family_weight", 0.0)
    if weight > 0 and s < 1.0:
        s = max(s, weight * family_similarity(a, b, names, own))
    return s


def core_terms(terms: dict[str, float], share: float) -> dict[str, float]:
    """A topic's core: the words weighing at least ``share`` of its heaviest word, which nearly every member
    writes. Without a place, the core is what the topic is about: the policy or service named (人才新政) and the
    question asked of it (补贴)."""
    if not terms:
        return {}
    top = max(terms.values())
    return {t: w for t, w in terms.items() if w >= share * top}


def core_missing(terms: dict[str, float], core: dict[str, float]) -> float:
    """Share of the core's weight that ``terms`` lack (0: every core word is there, at any weight)."""
    total = sum(core.values())
    if total <= 0:
        return 0.0
    return sum(w for t, w in core.items() if t not in terms) / total


def core_penalty(terms: dict[str, float], centroid: dict[str, float], size: int, cfg: dict[str, float]) -> float:
    """What a text that shares no place with a topic loses for each core word of the topic it lacks.

    With no place in common only the words tie complaints together, and one policy's name (人才新政) ties its
    sub-questions together too: 人才新政落户 shares 人才 and 新政 with 人才新政购房补贴 but not 补贴, which every
    member of that topic writes. So a settled topic (``core_min_size`` members) takes a text only when the text
    carries its core words; a topic of one or two members has no settled core (its first wording is no rule), and
    the split check corrects early joins once the topic has grown.
    """
    least = cfg.get("core_min_size", 0)
    if least <= 0 or size < least or cfg.get("core_weight", 0.0) <= 0:
        return 0.0
    return cfg["core_weight"] * core_missing(terms, core_terms(centroid, cfg.get("core_share", 0.7)))


_AREA = re.compile(r"^([A-Z])(\d*)[市区县州]$")


def areas(places) -> set[tuple[str, str]]:
    """Masked administrative codes (A市, A7县, K11县) as (city letter, district number)."""
    return {(m.group(1), m.group(2)) for p in places if (m := _AREA.match(p))}


def areas_conflict(a: set[tuple[str, str]], b: set[tuple[str, str]]) -> bool:
    """Different cities, or two different districts of one city: not the same place."""
    if not a or not b:
        return False
    if not {c for c, _ in a} & {c for c, _ in b}:
        return True
    da, db = {x for x in a if x[1]}, {x for x in b if x[1]}
    return bool(da and db and not da & db)


#: Lines and areas rather than sites: a road, a lake or a river runs past many estates, each with its own problems.
_LINE_OR_AREA = re.compile(r"(?:路|大道|道|街|巷|线|桥|湖|江|河|港|山|片区|一带|周边)$")


def sites(names) -> set[str]:
    """The estates, businesses and organisations among specific names (roads, lines and areas left out)."""
    return {p for p in names if not _LINE_OR_AREA.search(p)}


def most_specific(names: set[str]) -> set[str]:
    """Names not contained in a longer one of the same set: 碧桂园 goes when 碧桂园南城 is there, so two estates
    of one developer (碧桂园南城 / 碧桂园山湖城) are not taken for one place through the brand they share."""
    return {n for n in names if not any(n != m and len(n) >= 2 and n in m for m in names)}


def home_places(topic: HotTopic) -> set[str]:
    """The specific places a topic is about: named by at least two members and a quarter of them."""
    counts = topic.place_counts or {}
    size = max(topic.size or 0, 1)
    return {p for p, c in counts.items() if not is_generic_place(p) and c >= 2 and c >= 0.25 * size}


def score(f: DocFeatures, topic: HotTopic, cfg: dict[str, float], terms: dict[str, float] | None = None) -> float:
    """Term cosine with the centroid, plus a bonus for a shared specific place, minus conflicts.

    A topic about a place (its *home* places) does not take documents about another place, and
    takes a document that names no place only on stronger wording evidence. ``terms`` replaces the
    centroid (a member scored against the rest of its topic).
    """
    centroid = topic.terms or {} if terms is None else terms
    mine = set(f.specific_places) | set(f.organisations)
    theirs = specific(topic.place_counts or {})
    home = home_places(topic)
    ref = home or theirs
    my_sites, their_sites = most_specific(sites(mine)), most_specific(sites(ref))
    # Different estates or businesses (even on one road: 可可小城 / 金领公寓 on 桐梓坡西路) are never one problem,
    # however alike the wording (麻将馆扰民 at six estates).
    other_site = bool(my_sites and their_sites and not shares_place(my_sites, their_sites))
    if other_site or (mine and ref and not shares_place(mine, ref)):
        s = cosine(f.terms, centroid) - cfg.get("named_conflict", cfg["place_conflict"])
    elif mine and ref:
        # Same place or organisation: the problem words decide (the place's own words would make any two
        # complaints about it look alike), and the place counts only when they agree at all.
        if my_sites and their_sites:
            # The same estate or business on both sides: one problem family counts too.
            s = same_site_problem_similarity(f.terms, centroid, set(ref), cfg, mine - set(ref))
        else:
            s = problem_similarity(f.terms, centroid, set(ref), mine - set(ref))
        if s >= cfg.get("problem_min", 0.0):
            s += cfg["place_bonus"]
    elif home:
        s = cosine(f.terms, centroid) - cfg["place_conflict"] / 2
    else:
        # No place in common: the topic's core words (a policy and the question asked of it) must be there.
        size = topic.size or 0
        s = cosine(f.terms, centroid) - core_penalty(f.terms, centroid, size - 1 if terms is not None else size, cfg)
    if areas_conflict(areas(f.places), areas(topic.place_counts or {})):
        s -= cfg["place_conflict"]
    if f.label and topic.label and f.label != topic.label:
        s -= cfg["label_penalty"]
    return s


def topic_similarity(a: HotTopic, b: HotTopic, cfg: dict[str, float]) -> float:
    """Centroid similarity of two topics. Sharing a place, their problem words decide (as for a document and a
    topic in ``score``): the place's own words would make any two topics about it look alike."""
    pa, pb = specific(a.place_counts or {}), specific(b.place_counts or {})
    if shares_place(pa, pb):
        names = pa | pb
        if most_specific(sites(pa)) and most_specific(sites(pb)):
            s = same_site_problem_similarity(a.terms or {}, b.terms or {}, names, cfg)
        else:
            s = problem_similarity(a.terms or {}, b.terms or {}, names)
        if s >= cfg.get("problem_min", 0.0):
            s += cfg["place_bonus"]
        return s
    s = cosine(a.terms or {}, b.terms or {})
    if (pa and pb) or areas_conflict(areas(a.place_counts or {}), areas(b.place_counts or {})):
        s -= cfg["place_conflict"]
    # No place in common: each topic must carry the other's core words (two questions about one policy stay two).
    s -= max(core_penalty(a.terms or {}, b.terms or {}, b.size or 0, cfg),
             core_penalty(b.terms or {}, a.terms or {}, a.size or 0, cfg))
    return s


def main_sites(topic: HotTopic) -> set[str]:
    """The estates or businesses a topic is about: named by at least half of its members (two at least), and
    not a road, line or area."""
    counts = topic.place_counts or {}
    size = max(topic.size or 0, 1)
    return sites(p for p, c in counts.items() if c >= 2 and c * 2 >= size and not is_generic_place(p))


def _contains(x: str, y: str) -> bool:
    return x == y or (min(len(x), len(y)) >= 3 and (x in y or y in x))


def same_sites(a: set[str], b: set[str]) -> bool:
    """Every site of each set is a site of the other (丽发新城 / 丽发新城, 魅力之城 / 万科魅力之城): a site only one
    of them names (a second estate, a tagger leftover such as 开放式) means they are not about one place."""
    return all(any(_contains(x, y) for y in b) for x in a) and all(any(_contains(y, x) for x in a) for y in b)


def labels_agree(a: HotTopic, b: HotTopic) -> bool:
    """The same label, or a label held by at least a third of each topic's members (labels of short texts waver)."""
    if a.label and a.label == b.label:
        return True

    def main(t: HotTopic) -> set[str]:
        counts = t.label_counts or {}
        total = sum(counts.values()) or 1
        return {k for k, c in counts.items() if c * 3 >= total}
    return bool(main(a) & main(b))


def same_place_related(a: HotTopic, b: HotTopic, cfg: dict[str, float]) -> bool:
    """Two topics about one estate or business (a shared home place), with the same label and related problem
    words (油烟 / 夜宵摊 / 商铺噪音 of one estate's ground-floor shops): one problem written in several ways.

    The bar is lower than ``merge_threshold`` because the place already agrees; different problems of one
    estate (cracked floors, school places) share too few problem words to pass.
    """
    home_a, home_b = main_sites(a), main_sites(b)
    if not home_a or not home_b or not same_sites(home_a, home_b):
        return False
    if not labels_agree(a, b):
        return False
    names = specific(a.place_counts or {}) | specific(b.place_counts or {})
    return same_site_problem_similarity(a.terms or {}, b.terms or {}, names, cfg) >= cfg.get("same_place_merge", 1.1)


def has_hand_placed(session: Session, topic: HotTopic) -> bool:
    return session.scalar(select(TrendMember.document_id).where(TrendMember.topic_id == topic.id,
                                                                TrendMember.manual.is_(True)).limit(1)) is not None


def doc_keys(f: DocFeatures) -> list[str]:
    keys = [f"p:{p}" for p in f.specific_places[:4]] + [f"o:{o}" for o in f.organisations[:3]]
    keys += [f"k:{t}" for t, _ in sorted(f.terms.items(), key=lambda kv: -kv[1])[:8]]
    return [k[:120] for k in keys]


def hamming(a: int, b: int) -> int:
    return bin((a ^ b) & 0xFFFFFFFFFFFFFFFF).count("1")


def near_duplicate_topic(session: Session, f: DocFeatures, bits: int, exclude: int | None = None) -> int | None:
    """Topic of an earlier document within ``bits`` of the simhash, via the band columns (LIMITed)."""
    if f.simhash is None or all(b is None for b in f.bands):
        return None
    band_cols = (Document.sim_band0, Document.sim_band1, Document.sim_band2, Document.sim_band3)
    clauses = [col == val for col, val in zip(band_cols, f.bands) if val is not None]
    rows = session.execute(
        select(Document.id, Document.simhash, TrendMember.topic_id)
        .join(TrendMember, TrendMember.document_id == Document.id)
        .where(or_(*clauses), Document.id != f.document_id, Document.simhash.is_not(None))
        .order_by(Document.id.desc()).limit(BAND_LIMIT)
    ).all()
    best = None
    for _doc_id, simhash, topic_id in rows:
        d = hamming(simhash, f.simhash)
        if topic_id != exclude and d <= bits and (best is None or d < best[0]):
            best = (d, topic_id)
    return best[1] if best else None


@lru_cache(maxsize=64)
def _candidate_sql(named: int, n: int) -> TextClause:
    """One UNION ALL of per-key LIMITed index reads, built once per key count (no per-call SQL construction).

    The first ``named`` keys (places, organisations) look back over ``named_window_days``, the rest over
    ``window_days``: a complaint about one estate or business may return after months of quiet.
    """
    parts = [f"SELECT topic_id, key FROM (SELECT topic_id, key FROM trend_topic_keys WHERE key = :k{i} AND last_seen >= "
             f"{':since_named' if i < named else ':since'} ORDER BY last_seen DESC LIMIT {KEY_LIMIT}) AS s{i}" for i in range(n)]
    binds = ([bindparam("since_named", type_=UTCDateTime())] if named else []) + \
        ([bindparam("since", type_=UTCDateTime())] if named < n else [])
    return text(" UNION ALL ".join(parts)).bindparams(*binds)


def candidate_topics(session: Session, f: DocFeatures, cfg: dict[str, float]) -> list[HotTopic]:
    """Recently active topics sharing a key with the document (places and organisations count double)."""
    since = f.at - dt.timedelta(days=cfg["window_days"])
    since_named = f.at - dt.timedelta(days=max(cfg["window_days"], cfg.get("named_window_days", cfg["window_days"])))
    keys = list(dict.fromkeys(doc_keys(f)))
    if not keys:
        return []
    keys.sort(key=lambda k: not k.startswith(("p:", "o:")))
    named = sum(1 for k in keys if k.startswith(("p:", "o:")))
    params = {f"k{i}": k for i, k in enumerate(keys)}
    if named:
        params["since_named"] = since_named
    if named < len(keys):
        params["since"] = since
    hits: Counter[int] = Counter()
    for tid, key in session.execute(_candidate_sql(named, len(keys)), params).all():
        hits[tid] += 2 if key.startswith(("p:", "o:")) else 1
    if not hits:
        return []
    ids = [tid for tid, _ in hits.most_common(CANDIDATES)]
    return list(session.scalars(select(HotTopic).where(HotTopic.id.in_(ids), HotTopic.status == "active")))


def _top(counter: dict, n: int) -> dict:
    return dict(sorted(counter.items(), key=lambda kv: -kv[1])[:n])


def absorb(topic: HotTopic, f: DocFeatures, new_reporter: bool) -> None:
    """Fold one document into the topic's centroid and running statistics."""
    terms = dict(topic.terms or {})
    for t, w in f.terms.items():
        terms[t] = round(terms.get(t, 0.0) + w, 3)
    topic.terms = _top(terms, CENTROID_TERMS)
    places = dict(topic.place_counts or {})
    for p in f.places + [o for o in f.organisations if o not in f.places]:
        places[p] = places.get(p, 0) + 1
    topic.place_counts = _top(places, PLACES_KEPT)
    labels = dict(topic.label_counts or {})
    if f.label:
        labels[f.label] = labels.get(f.label, 0) + 1
        topic.label_counts = labels
        topic.label = max(labels.items(), key=lambda kv: kv[1])[0]
    topic.size = (topic.size or 0) + 1
    topic.reporters = (topic.reporters or 0) + (1 if new_reporter else 0)
    topic.likes = (topic.likes or 0) + f.likes
    topic.negative = (topic.negative or 0) + (1 if f.negative else 0)
    topic.risk = (topic.risk or 0) + (1 if f.risk else 0)
    topic.first_seen = min(topic.first_seen, f.at) if topic.first_seen else f.at
    topic.last_seen = max(topic.last_seen, f.at) if topic.last_seen else f.at
    refresh_summary(topic)


def refresh_summary(topic: HotTopic) -> None:
    counts = topic.place_counts or {}
    ranked = sorted(counts.items(), key=lambda kv: (is_generic_place(kv[0]), -kv[1]))
    topic.places = [p for p, _ in ranked[:3]]
    topic.keywords = [t for t, _ in sorted((topic.terms or {}).items(), key=lambda kv: -kv[1])[:8]]


def _later_last_seen(excluded) -> dict:
    col = TrendTopicKey.__table__.c.last_seen
    return {"last_seen": case((col < excluded.last_seen, excluded.last_seen), else_=col)}


def add_member(session: Session, topic: HotTopic, f: DocFeatures, s: float, manual: bool = False) -> None:
    new_reporter = session.scalar(
        select(TrendMember.document_id).where(TrendMember.topic_id == topic.id, TrendMember.reporter == f.reporter).limit(1)
    ) is None
    session.add(TrendMember(
        document_id=f.document_id, topic_id=topic.id, at=f.at, day=f.day, source=f.source[:64], label=f.label,
        sentiment=f.sentiment, risk=f.risk, reporter=f.reporter, likes=f.likes, score=round(s, 4), manual=manual,
    ))
    for place in f.places:
        session.add(TrendMemberPlace(document_id=f.document_id, place=place, day=f.day))
    absorb(topic, f, new_reporter)
    upsert_many(session, TrendTopicKey, [{"key": k, "topic_id": topic.id, "last_seen": f.at} for k in dict.fromkeys(doc_keys(f))],
                ["key", "topic_id"], _later_last_seen)
    session.flush()


def assign(session: Session, f: DocFeatures, cfg: dict[str, float], exclude: int | None = None,
           split: bool = True) -> Assignment:
    """Put the document in a topic (idempotent: a document already placed only refreshes its votes).

    ``exclude``: a topic the document must not join (it was just split out of it); ``split``: run
    the automatic split check when the topic reaches a checkpoint size.
    """
    member = session.get(TrendMember, f.document_id)
    if member is not None:
        topic = session.get(HotTopic, member.topic_id)
        if f.likes != member.likes:
            topic.likes = (topic.likes or 0) + f.likes - member.likes
            member.likes = f.likes
        return Assignment(topic, False, member.score, [], False)
    best: tuple[float, HotTopic] | None = None
    dup = near_duplicate_topic(session, f, int(cfg["near_duplicate_bits"]), exclude)
    candidates = [t for t in candidate_topics(session, f, cfg) if t.id != exclude]
    scored = sorted(((score(f, t, cfg), t) for t in candidates), key=lambda st: (-st[0], st[1].id))
    if dup is not None:
        topic = session.get(HotTopic, dup)
        if topic is not None and topic.status != "active" and topic.merged_into_id:
            topic = _resolve(session, topic)
        if topic is not None:
            best = (1.0, topic)
    if best is None and scored and scored[0][0] >= cfg["join_threshold"]:
        best = scored[0]
    created = best is None
    if created:
        topic = HotTopic(title=mask_personal_data(f.title)[:300], terms={}, place_counts={}, label_counts={}, places=[], keywords=[],
                         representative_ids=[f.document_id], size=0)
        session.add(topic)
        session.flush()
        s = 1.0
    else:
        s, topic = best
    add_member(session, topic, f, s)
    merged = []
    for other_score, other in scored:
        if other.id == topic.id or other.status != "active":
            continue
        home, other_home = home_places(topic), home_places(other)
        main, other_main = main_sites(topic), main_sites(other)
        bridged = other_score >= cfg["join_threshold"] and not (home and other_home and not shares_place(home, other_home)) \
            and not (main and other_main and not same_sites(main, other_main)) \
            and topic_similarity(topic, other, cfg) >= cfg["merge_threshold"]
        if bridged:
            # This document fits both and their centroids agree; the same wording about two different places
            # (or two estates on one road) stays two problems.
            keep, gone = (topic, other) if (topic.size, -topic.id) >= (other.size, -other.id) else (other, topic)
            if gone.pinned and not keep.pinned:
                keep, gone = gone, keep
            if gone.pinned:
                continue
        elif same_place_related(topic, other, cfg) and not other.pinned and not topic.pinned \
                and not has_hand_placed(session, other) and not has_hand_placed(session, topic):
            # Another wording of the same problem at the same estate or business (not where an analyst pinned a
            # topic or placed members by hand: a split they made stays split).
            keep, gone = (topic, other) if (topic.size, -topic.id) >= (other.size, -other.id) else (other, topic)
        else:
            continue
        merge_topics(session, keep, gone)
        merged.append(gone.id)
        topic = keep
    moved = split_outliers(session, topic, cfg, f.document_id) if split else {}
    maybe_retitle(session, topic, force=bool(moved))
    return Assignment(topic, created, s, merged, True, moved)


def _is_split_size(n: int) -> bool:
    return SPLIT_MIN <= n <= SPLIT_MAX and (n & (n - 1)) == 0


def split_outliers(session: Session, topic: HotTopic, cfg: dict[str, float], arriving: int | None = None) -> dict[int, int]:
    """Split out members that no longer fit the grown topic and place each of them again.

    At each power of two from 8 to 512 members every automatically placed member is scored
    against the centroid of the *other* members; below ``split_threshold`` (lower than the join
    threshold, so a member does not flip back and forth) it leaves, and goes to the best other
    topic or starts its own. Nothing moves when half the topic disagrees (the centroid itself is
    not settled), from a pinned topic, or a member an analyst placed by hand. ``arriving``: the
    document being processed, whose hourly count the surge step adds afterwards.
    """
    if topic.pinned or not _is_split_size(topic.size or 0):
        return {}
    session.flush()
    docs = session.scalars(select(Document).join(TrendMember, TrendMember.document_id == Document.id)
                           .where(TrendMember.topic_id == topic.id, TrendMember.manual.is_(False))).all()
    centroid = topic.terms or {}
    outliers = []
    for doc in docs:
        f = features_of(doc)
        rest = {t: w - f.terms.get(t, 0.0) for t, w in centroid.items() if w - f.terms.get(t, 0.0) > 1e-6}
        if score(f, topic, cfg, rest) < cfg["split_threshold"]:
            outliers.append(f)
    if not outliers or len(outliers) * 2 >= (topic.size or 0):
        return {}
    ids = [f.document_id for f in outliers]
    session.execute(delete(TrendMemberPlace).where(TrendMemberPlace.document_id.in_(ids)))
    session.execute(delete(TrendMember).where(TrendMember.document_id.in_(ids)))
    rebuild(session, topic, uncounted=arriving)
    moved: dict[int, int] = {}
    for f in outliers:
        placed = assign(session, f, cfg, exclude=topic.id, split=False)
        upsert(session, TrendCount, {"scope": "topic", "key": str(placed.topic.id), "hour": int(f.at.timestamp() // 3600),
                                     "count": 1}, ["scope", "key", "hour"], lambda ex: {"count": TrendCount.count + 1})
        moved[f.document_id] = placed.topic.id
    return moved


def rebuild(session: Session, topic: HotTopic, uncounted: int | None = None) -> None:
    """Recompute a topic's centroid, statistics, keys, hourly counts and title from its members (not its heat).

    ``uncounted``: a member left out of the hourly counts (the caller counts it).
    """
    session.flush()
    docs = session.scalars(select(Document).join(TrendMember, TrendMember.document_id == Document.id)
                           .where(TrendMember.topic_id == topic.id).order_by(TrendMember.at)).all()
    topic.terms, topic.place_counts, topic.label_counts = {}, {}, {}
    topic.size = topic.reporters = topic.likes = topic.negative = topic.risk = 0
    topic.first_seen = topic.last_seen = None
    topic.label = None
    session.execute(delete(TrendTopicKey).where(TrendTopicKey.topic_id == topic.id))
    session.execute(delete(TrendCount).where(TrendCount.scope == "topic", TrendCount.key == str(topic.id)))
    reporters: set[str] = set()
    hours: Counter[int] = Counter()
    keys: dict[str, dt.datetime] = {}
    for doc in docs:
        f = features_of(doc)
        absorb(topic, f, f.reporter not in reporters)
        reporters.add(f.reporter)
        if doc.id != uncounted:
            hours[int(f.at.timestamp() // 3600)] += 1
        for key in doc_keys(f):
            keys[key] = max(keys.get(key, f.at), f.at)
    for key, last in keys.items():
        session.add(TrendTopicKey(key=key, topic_id=topic.id, last_seen=last))
    for hour, n in hours.items():
        session.add(TrendCount(scope="topic", key=str(topic.id), hour=hour, count=n))
    session.flush()
    maybe_retitle(session, topic, force=True)


def _resolve(session: Session, topic: HotTopic) -> HotTopic | None:
    seen = 0
    while topic is not None and topic.status != "active" and topic.merged_into_id and seen < 20:
        topic = session.get(HotTopic, topic.merged_into_id)
        seen += 1
    return topic if topic is not None and topic.status == "active" else None


def merge_topics(session: Session, keep: HotTopic, gone: HotTopic) -> None:
    """Move every member, key and count of ``gone`` into ``keep`` (cost: the size of ``gone``)."""
    session.flush()
    new_reporters = session.scalar(
        select(func.count(func.distinct(TrendMember.reporter))).where(
            TrendMember.topic_id == gone.id,
            TrendMember.reporter.not_in(select(TrendMember.reporter).where(TrendMember.topic_id == keep.id)),
        )
    ) or 0
    session.execute(update(TrendMember).where(TrendMember.topic_id == gone.id).values(topic_id=keep.id))
    for key, last_seen in session.execute(select(TrendTopicKey.key, TrendTopicKey.last_seen).where(TrendTopicKey.topic_id == gone.id)).all():
        upsert(session, TrendTopicKey, {"key": key, "topic_id": keep.id, "last_seen": last_seen}, ["key", "topic_id"],
               _later_last_seen)
    session.execute(delete(TrendTopicKey).where(TrendTopicKey.topic_id == gone.id))
    for hour, count in session.execute(select(TrendCount.hour, TrendCount.count).where(
            TrendCount.scope == "topic", TrendCount.key == str(gone.id))).all():
        upsert(session, TrendCount, {"scope": "topic", "key": str(keep.id), "hour": hour, "count": count},
               ["scope", "key", "hour"], lambda ex: {"count": TrendCount.count + ex.count})
    session.execute(delete(TrendCount).where(TrendCount.scope == "topic", TrendCount.key == str(gone.id)))
    terms = dict(keep.terms or {})
    for t, w in (gone.terms or {}).items():
        terms[t] = round(terms.get(t, 0.0) + w, 3)
    keep.terms = _top(terms, CENTROID_TERMS)
    places = dict(keep.place_counts or {})
    for p, c in (gone.place_counts or {}).items():
        places[p] = places.get(p, 0) + c
    keep.place_counts = _top(places, PLACES_KEPT)
    labels = dict(keep.label_counts or {})
    for lbl, c in (gone.label_counts or {}).items():
        labels[lbl] = labels.get(lbl, 0) + c
    keep.label_counts = labels
    if labels:
        keep.label = max(labels.items(), key=lambda kv: kv[1])[0]
    keep.size = (keep.size or 0) + (gone.size or 0)
    keep.reporters = (keep.reporters or 0) + new_reporters
    keep.likes = (keep.likes or 0) + (gone.likes or 0)
    keep.negative = (keep.negative or 0) + (gone.negative or 0)
    keep.risk = (keep.risk or 0) + (gone.risk or 0)
    if gone.first_seen and (not keep.first_seen or gone.first_seen < keep.first_seen):
        keep.first_seen = gone.first_seen
    if gone.last_seen and (not keep.last_seen or gone.last_seen > keep.last_seen):
        keep.last_seen = gone.last_seen
    if keep.master_case_id is None:
        keep.master_case_id = gone.master_case_id
    keep.pinned = keep.pinned or gone.pinned
    refresh_summary(keep)
    gone.status = "merged"
    gone.merged_into_id = keep.id
    gone.size = 0
    session.flush()
    keep.representative_ids = []
    maybe_retitle(session, keep, force=True)


def _is_retitle_size(n: int) -> bool:
    return n <= 4 or (n & (n - 1)) == 0


def maybe_retitle(session: Session, topic: HotTopic, force: bool = False) -> None:
    """Pick the most central titles as representatives at sizes 1-4 and each power of two (amortised O(1))."""
    if not force and not _is_retitle_size(topic.size or 0):
        return
    rows = session.execute(
        select(Document.id, Document.title, Document.title_tokens).join(TrendMember, TrendMember.document_id == Document.id)
        .where(TrendMember.topic_id == topic.id).order_by(TrendMember.at.desc()).limit(60)
    ).all()
    if not rows:
        return
    from search.trends.features import _segmenter
    tokenize, content = _segmenter()
    centroid = topic.terms or {}
    main_places = [p for p in (topic.places or []) if not is_generic_place(p)]

    def centrality(row) -> float:
        tokens = row.title_tokens.split() if row.title_tokens else content(tokenize(row.title or ""))
        distinct = set(tokens)
        s = sum(centroid.get(t, 0.0) for t in distinct) / math.sqrt(len(distinct) + 1)
        if main_places and main_places[0] in (row.title or ""):
            s *= 1.3
        return s

    ranked = sorted(rows, key=lambda r: (-centrality(r), len(r.title or ""), r.id))
    topic.representative_ids = [r.id for r in ranked[:5]]
    if not topic.title_locked and ranked[0].title:
        topic.title = mask_personal_data(ranked[0].title)[:300]
