"""Keywords from the corpus IDF table (TF-IDF) and TextRank."""
from __future__ import annotations

from nlp import keywords, segment

TEXT = "小区物业乱收停车费，物业公司还威胁业主。停车费标准不透明，业主要求物业公示停车费收支。"


def test_idf_table_round_trip(tmp_path):
    docs = [["小区", "物业"], ["小区", "停车费"], ["小区", "噪音"], ["停车费", "物业"]]
    table = keywords.build_idf(docs, min_df=1)
    assert table["小区"] < table["噪音"]
    path = tmp_path / "idf.tsv"
    keywords.write_idf(table, path)
    loaded, default = keywords.idf_table(path)
    assert abs(loaded["噪音"] - table["噪音"]) < 1e-3 and min(loaded.values()) <= default <= max(loaded.values())


def test_tfidf_and_textrank_pick_content_nouns():
    tagged = segment.tag(TEXT)
    for method in ("tfidf", "textrank"):
        found = keywords.keywords(tagged, 5, method)
        assert "停车费" in found and "物业" in found, (method, found)
        assert not {"的", "还", "要求"} & set(found)


def test_no_keywords_from_nothing():
    assert keywords.keywords([], 5) == [] and keywords.textrank(segment.tag("😀😀"), 5) == []
