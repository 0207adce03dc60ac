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
    # jieba tags 岳麓区 as a person's name (nr): a one-word district is still a district
    assert places("家住A市岳麓区咸嘉湖街道") == ["A市", "岳麓区", "咸嘉湖街道"]
    # jieba reads A8县市资福镇 as A8县 + 市资福镇: the county-level city's 市 is not part of the town
    assert places("A8县市资福镇的村民") == ["A8县", "资福镇"]


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


def test_fragments_are_trimmed():
    assert places("很多邻居都有头痛") == []
    assert places("最近几天星河湾小区旁化工厂") == ["星河湾"]
    assert places("受害者怀疑西地省的官员") == ["西地省"]
    assert places("主管部门省质检站") == [] and places("距铁路中心只有五十米") == []
    assert orgs("平台一处") == [] and "交汇处" not in orgs("两条路的交汇处")


def test_estate_names_with_particles_and_masked_codes():
    assert "魅力之城" in places("A5区劳动东路魅力之城小区油烟扰民")
    assert places("A市A5区汇金路五矿万境K9县存在一系列问题") == ["A市", "A5区", "汇金路", "五矿万境", "K9县"]


def test_business_names_are_organisations():
    assert "58车贷" in orgs("A市58车贷恶性退出")
    assert "湖楚财富" in orgs("举报湖楚财富侵吞百姓血汗钱")
    assert not any(o.endswith("财富") for o in orgs("创造社会财富"))


def test_names_after_an_area_cut_across_words_are_read_on_the_characters():
    """jieba cuts new names across their ends (德政|园, 镇南|托, 鑫源|和|诚): the unit or estate after a district is
    still found, so complaints about 麻将馆 at different estates are not taken for one place-less problem."""
    assert "德政园社区" in places("A1区德政园社区麻将馆噪音扰民")
    assert {"暮云镇", "南托街道"} <= set(places("A2区暮云镇南托街道几个麻将馆扰民"))
    assert "鑫源和诚" in places("A2区鑫源和诚8栋麻将馆扰民")
    assert "商贸二区" in places("A2区商贸二区七栋的麻将馆扰民问题还没解决")
    assert places("A1区德政园社区麻将馆噪音扰民") == ["A1区", "德政园社区"]  # order of first mention


def test_sentence_words_after_an_area_are_no_names():
    assert places("A3区居民反映社区问题") == ["A3区"]
    assert "竹山组村" not in places("G5县王梓园村竹山组村民承包农田")
    assert not any(p.startswith("和") for p in places("L3县和筲箕湾镇政府"))
