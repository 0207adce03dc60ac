"""Places and organisations, normalised so that one place counts once."""
from __future__ import annotations

from nlp import entities, segment


def places(text: str) -> list[str]:
    return entities.places(segment.tag(text))


def orgs(text: str) -> list[str]:
    return entities.organisations(segment.tag(text))


def test_compound_with_and_without_district_and_suffix_is_one_place():
    assert "丽发新城" in places("A2区丽发新城小区的业主反映")
    assert "丽发新城" in places("丽发新城业主反映噪音")
    assert places("A2区丽发新城小区") .count("丽发新城") == 1


def test_administrative_chain_is_split_into_units():
    assert places("位于A市A2区桂花坪街道的景蓉华苑") == ["A市", "A2区", "桂花坪街道", "景蓉华苑"]
    assert places("A市经开区的黄兴镇蓝田村") == ["A市", "经开区", "黄兴镇", "蓝田村"]


def test_roads():
    assert places("万家丽路和人民路交叉口经常堵车") == ["万家丽路", "人民路"]


def test_generic_words_are_not_places():
    assert places("该小区的物业要退出小区，社区也不管") == []


def test_organisations():
    found = orgs("A市住建局和湘雅医院，A市第一中学，中国移动通信有限公司")
    assert found == ["A市住建局", "湘雅医院", "A市第一中学", "中国移动通信有限公司"]
    assert orgs("物业公司不作为") == []


def test_empty():
    assert places("") == [] and orgs("") == []
