"""Everyday words and abbreviations for the report's terms, and what a passage lacks (issue 37)."""

import json

import pytest

from pudong_qa.results import ANSWERED
from pudong_qa.search.answer import lacks_attribute, missing_words
from pudong_qa.search.query import analyze, asked_attribute
from pudong_qa.search.synonyms import Synonyms, defined_short_forms, load_table
from pudong_qa.tokenize import Tokenizer, normalize


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer()


def test_the_common_table_is_two_way_for_abbreviations_and_one_way_for_everyday_words():
    table = load_table()
    assert "生产总值" in table["gdp"] and "gdp" in table["生产总值"]
    assert "生产总值" in table["经济总量"]  # one group: each word is every other's
    assert "居民" in table["老百姓"] and table["居民"] == ("老百姓",)  # "老百姓 > 居民 群众 …": not 居民 ≈ 群众


def test_expansions_take_the_longest_word_latin_words_whole_and_only_words_the_index_holds():
    syn = Synonyms.of({}, {"gdp": ("生产总值",), "人均gdp": ("人均生产总值",), "人大": ("人民代表大会",)})
    (e,) = syn.expand("浦东的人均gdp是多少")
    assert e.word == "人均gdp" and e.others == ("人均生产总值",)
    assert syn.expand("gdpr是什么") == ()  # not an abbreviation inside a longer Latin word
    assert syn.expand("浦东gdp", keep=lambda word, other, defined: False) == ()  # the documents do not say it
    assert not syn.defined  # the common table's pairs
    common = {"gdp": ("生产总值",), "生产总值": ("gdp",)}
    assert Synonyms.of({"gdp": ["生产总值"], "wto": ["世界贸易组织"]}, common).defined == {
        ("wto", "世界贸易组织"), ("世界贸易组织", "wto")}  # only what the documents alone give
    assert syn.expand("生产总值gdp") == ()  # the query already says the other word


def test_short_forms_a_document_defines_are_found_with_their_full_names(tokenizer):
    text = normalize("2006年全年实现国内生产总值（GDP）500亿元。上海市浦东新区人民政府（以下简称“区政府”）负责。")
    found = defined_short_forms([text], tokenizer.tagged)
    assert found["gdp"] == ["国内生产总值"]  # the name, not the verb before it (实现)
    assert found["区政府"] == ["上海市浦东新区人民政府"]
    syn = Synonyms.of(found, {})
    assert syn.expand("区政府在哪")[0].others == ("上海市浦东新区人民政府",)
    assert syn.expand("上海市浦东新区人民政府在哪")[0].others == ("区政府",)  # a Chinese short form: both ways
    assert syn.expand("gdp是多少")[0].others == ("国内生产总值",)
    assert syn.expand("国内生产总值是多少")[0].others == ("gdp",)


@pytest.mark.parametrize(("question", "attribute"), [
    ("浦东新区的人均gdp", "人均gdp"),  # a bare phrase asks for its last noun
    ("上海浦发教育评估中心的电话是多少", "电话"),
    ("协议的期限是几年", "期限"),
    ("浦东生产总值占全市的比重是多少", None),  # a ratio's own word: the answer shows "23%"
    ("农民的养老保险有什么变化", None),  # not a number, time, person or place
    ("社会化管理的含义", None),  # a definition asks what the term means
    ("浦东新区的南面和哪些区相邻", None),  # a clause, not a noun
])
def test_the_attribute_a_factoid_question_asks_after_的(tokenizer, question, attribute):
    assert asked_attribute(question, tokenizer) == attribute


def test_a_passage_lacking_the_asked_attribute_and_the_words_it_lacks(tokenizer):
    syn = Synonyms.of({}, {"gdp": ("生产总值",), "人均gdp": ("人均生产总值",)})
    q = analyze("浦东新区的人均GDP", "浦东新区的人均gdp", tokenizer, syn.expand("浦东新区的人均gdp"))
    income = "浦东新区城镇居民人均可支配收入达到21452元"
    assert lacks_attribute(q, income) and missing_words(q, income) == ("gdp",)
    assert not lacks_attribute(q, "浦东新区人均生产总值达到9万元")
    q = analyze("浦东gdp是多少", "浦东gdp是多少", tokenizer, syn.expand("浦东gdp是多少"))
    assert missing_words(q, "浦东生产总值达到2365亿元") == ()  # said in other words: not missing
    q = analyze("浦东人均收入", "浦东人均收入", tokenizer)
    assert missing_words(q, "浦东居民人均可支配收入达到21452元") == ()  # most of 人均收入's pairs: as the confidence
    assert missing_words(q, "浦东居民的收入") == ("人均收入",)


def test_an_abbreviation_finds_the_passage_that_says_the_full_term(searcher):
    resp = searcher.search("浦东新区的GDP是多少", top_k=3)
    assert resp.verdict == ANSWERED and "生产总值达到2365.33亿元" in resp.results[0].sentence
    assert resp.expansions and resp.expansions[0][0] == "GDP" and "生产总值" in resp.expansions[0][1]  # as asked
    record = json.loads(json.dumps(resp.to_dict(), ensure_ascii=False))
    assert record["verdict"] == ANSWERED and record["expansions"][0]["word"] == "GDP"
    first = record["results"][0]
    assert first["sentence"] in first["answer"] and first["missing"] == []


def test_a_passage_about_the_subject_that_lacks_what_is_asked_is_never_a_confident_answer(searcher):
    resp = searcher.search("浦东新区的人均GDP", top_k=3)
    assert resp.verdict != ANSWERED
    assert "GDP" in resp.results[0].missing  # the word as the question spells it
    assert "负责人" in searcher.search("上海成功教育管理咨询中心的负责人是谁", top_k=1).results[0].missing


def test_a_build_records_the_short_forms_its_documents_define_and_search_uses_them(tmp_path, model):
    from pudong_qa.index import SHORT_FORMS, load_index
    from pudong_qa.indexing import build_index
    from pudong_qa.search.searcher import Searcher
    from pudong_qa.settings import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in (("概况", "示范区综合开发管理委员会(以下简称“示范委”)成立于2001年。"),
                       ("职能", "示范委负责园区规划与招商,并协调各部门。"), ("成绩", "示范委全年引进企业120家。")):
        (corpus / f"{name}.txt").write_text(f"{name}\n\n{text}\n", encoding="utf-8")
    settings = Settings(root=tmp_path)
    build_index(settings, model=model)
    assert json.loads((settings.index / SHORT_FORMS).read_text(encoding="utf-8")) == {
        "示范委": ["示范区综合开发管理委员会"]}
    searcher = Searcher(load_index(settings.index), model)
    resp = searcher.search("示范区综合开发管理委员会负责什么", top_k=2)  # the documents say 示范委 thereafter
    assert resp.expansions == (("示范区综合开发管理委员会", ("示范委",)),)
    duties = next(r for r in resp.results if "负责园区规划" in r.sentence)  # found by the short form alone
    assert duties.missing == () and resp.results[0].missing in ((), ("负责",))
    assert searcher.search("示范委负责什么", top_k=1).expansions == ()  # the full name is said less often
