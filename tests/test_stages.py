"""The search stages one at a time, over a tiny in-memory store and the fake encoder: fusion,
answer sentences and confidence are plain functions of plain data, so they run in milliseconds."""

import numpy as np
import pytest

from pudong_qa.chunking import Passage, chunk_document
from pudong_qa.corpus import parse_document
from pudong_qa.search.answer import answer_span, confidence
from pudong_qa.search.query import Titles, analyze, aspect, clean_query, count_unit, defines, quantity_focus
from pudong_qa.search.ranking import Fusion, SearchConfig, phrase_score
from pudong_qa.search.stages import (
    Candidates,
    Ranking,
    answer_stage,
    aspect_stage,
    candidate_stage,
    lexical_stage,
    overlaps,
    rank_stage,
    result_stage,
)
from pudong_qa.stores import LexicalScores, Store, bm25_idf, sentence_layout
from pudong_qa.tokenize import Tokenizer, normalize

DOC = """示范区工作报告
一、概况
示范区面积为一百平方公里。示范区下辖五个街道。
二、公共服务
“一网通办”是指企业和群众办事只需登录一个网站。该平台于2019年上线。
社区食堂为老人提供午餐服务。
"""


class MemoryStore(Store):
    """A Store in plain Python: word-count "BM25", fake-encoder vectors."""

    def __init__(self, passages: list[Passage], tokenizer: Tokenizer, encoder) -> None:
        self.passages = passages
        self.sentence_offsets, self.sentence_owner = sentence_layout(passages)
        self.tokenizer = tokenizer
        self.passage_tokens = [tokenizer.tokens(p.text) for p in passages]
        self.sentence_tokens = [tokenizer.tokens(s) for p in passages for s in p.sentence_texts()]
        self.vectors = encoder.encode_passages([p.text for p in passages])
        self.sentence_matrix = encoder.encode_passages([s for p in passages for s in p.sentence_texts()])

    @staticmethod
    def _count(docs, tokens):
        return np.array([sum(d.count(t) for t in tokens) for d in docs], dtype=np.float32)

    def lexical_scores(self, tokens):
        return LexicalScores(self._count(self.passage_tokens, tokens), self._count(self.sentence_tokens, tokens))

    def document_frequency(self, word):
        return sum(word in d for d in self.passage_tokens)

    def nearest(self, qvec, k):
        return np.argsort(-(self.vectors @ qvec))[:k]

    def passage_vectors(self, ids):
        return self.vectors[ids]

    def sentence_vectors(self, rows):
        return self.sentence_matrix[rows]


@pytest.fixture(scope="module")
def store(fake_encoder):
    doc = parse_document("corpus/demo.txt", DOC)
    passages = chunk_document(doc, max_chars=60)
    return MemoryStore(passages, Tokenizer(["一网通办", "示范区"]), fake_encoder)


def _search(store, fake_encoder, question, top_k=3):
    cfg = SearchConfig()
    query = clean_query(question)
    q = analyze(question, query, store.tokenizer)
    lexical, sentence_lex = lexical_stage(store, q.tokens, cfg.sentence_share)
    qvec = fake_encoder.encode_queries([query])[0]
    cands = candidate_stage(store, lexical, qvec, cfg.candidates)
    texts = {i: (normalize(p.text), [normalize(s) for s in p.sentence_texts()]) for i, p in enumerate(store.passages)}
    ranking = rank_stage(q, lexical, cands, store.passages, texts.__getitem__, Fusion.from_config(cfg),
                         cfg.sentence_share, use_lexical=bool(lexical.max() > 0))
    return q, cands, ranking, result_stage(ranking, cands, sentence_lex, store, {}, cfg, top_k)


def test_lexical_stage_scores_a_passage_by_itself_and_its_best_sentence(store):
    combined, sentences = lexical_stage(store, ["街道"], 0.5)
    assert combined.shape == (len(store.passages),) and sentences.shape == (len(store.sentence_owner),)
    best = int(np.argmax(combined))
    assert "街道" in store.passages[best].text and combined[best] == pytest.approx(1.0)
    assert combined.min() == 0.0  # passages without the word get nothing


def test_candidates_are_the_union_of_both_retrievers(store, fake_encoder):
    qvec = fake_encoder.encode_queries(["社区食堂"])[0]
    lexical = np.zeros(len(store.passages), dtype=np.float32)
    lexical[0] = 1.0
    cands = candidate_stage(store, lexical, qvec, 1)
    assert 0 in cands.ids and int(store.nearest(qvec, 1)[0]) in cands.ids
    for k, pid in enumerate(cands.ids):  # each candidate's sentence cosines, in order
        assert len(cands.sentences(k)) == len(store.passages[pid].sentences)


def test_fusion_adds_each_bonus_with_its_weight():
    fusion = Fusion(lexical_weight=0.5, phrase_weight=0.3, definition_weight=0.2, preamble_weight=0.1)
    lexical, dense = np.array([1.0, 0.0]), np.array([0.2, 0.4])
    base = fusion(lexical, dense)
    assert base.tolist() == [0.5, 0.5]  # dense is range-normalised: 0 and 1
    assert fusion(lexical, dense, use_lexical=False).tolist() == [0.0, 1.0]
    with_bonus = fusion(lexical, dense, phrase=np.array([1.0, 0.0]), defines=np.array([0.0, 1.0]),
                        preamble=np.array([1.0, 1.0]))
    assert with_bonus.tolist() == pytest.approx([0.5 + 0.3 + 0.1, 0.5 + 0.2 + 0.1])


def test_phrase_score_prefers_the_longest_verbatim_match():
    assert phrase_score(("公共服务",), "提供公共服务") == 1.0
    assert 0 < phrase_score(("公共服务",), "公共的服务") < 1.0
    assert phrase_score((), "任何文本") == 0.0


def test_phrase_bonus_counts_the_documents_title_as_said_in_each_of_its_passages():
    # the subject is named in the title and the first passage; the second answers with "镇上"
    doc = parse_document("corpus/town.txt", "青石古镇\n\n青石古镇是江南水乡的一座古镇。\n\n镇上的主要产业是丝绸。\n")
    passages = chunk_document(doc, max_chars=20)
    assert [p.text for p in passages] == ["青石古镇是江南水乡的一座古镇。", "镇上的主要产业是丝绸。"]
    q = _question("青石古镇的产业")
    n = len(passages)
    cands = Candidates(np.arange(n), np.zeros(n, np.float32), np.zeros(n, np.float32), np.arange(n + 1))
    texts = {i: (normalize(p.text), [normalize(p.text)]) for i, p in enumerate(passages)}
    phrase_only = Fusion(lexical_weight=0.0, phrase_weight=1.0, definition_weight=0.0, preamble_weight=0.0)
    ranking = rank_stage(q, np.zeros(n, np.float32), cands, passages, texts.__getitem__, phrase_only, 0.5, False)
    assert ranking.fused[1] > ranking.fused[0]  # both name the subject (by the title); only one names 产业


def test_answer_stage_lifts_a_passage_whose_sentence_answers_among_the_first_few_only():
    cands = Candidates(np.array([10, 11, 12]), np.zeros(3), np.zeros(3), np.arange(4))
    ranking = Ranking(np.array([0, 1, 2]), np.array([1.0, 0.9, 0.8]), {})
    priors = {10: np.array([0.0, 0.1]), 11: np.array([0.5, 0.0]), 12: np.array([1.0])}
    out = answer_stage(ranking, cands, priors.__getitem__, weight=0.3, depth=2)
    assert out.order.tolist() == [1, 0, 2]  # 0.9 + 0.15 beats 1.0 + 0.03; the third is not looked at
    assert out.fused[2] == 0.8 and out.fused[1] == pytest.approx(1.05)
    assert answer_stage(ranking, cands, priors.__getitem__, weight=0.0, depth=2) is ranking


def test_titles_a_question_names_and_what_it_asks_besides():
    titles = Titles.of(["青石古镇", "古镇", "镇", "丝绸之路", "x" * 100])
    assert titles.named_in("青石古镇的古镇风貌") == ["青石古镇", "古镇"]  # longest first
    assert titles.named_in("镇上有什么") == []  # a one-character title is too common to count
    assert titles.named_in("丝绸") == []
    assert aspect("青石古镇的主要产业是什么", ["青石古镇"]) == "主要产业是什么"
    assert aspect("丝绸之路经过青石古镇吗", ["丝绸之路", "青石古镇"]) == "经过 吗"
    assert aspect("主要产业是什么", []) is None and aspect("青石古镇", ["青石古镇"]) is None


def test_aspect_stage_scores_each_passages_sentences_over_all_of_them(store, fake_encoder):
    vec = fake_encoder.encode_queries(["社区食堂"])[0]
    ids = [0, 1]
    out = aspect_stage(vec, ids, store)
    sizes = [int(store.sentence_offsets[i + 1] - store.sentence_offsets[i]) for i in ids]
    assert sorted(out) == ids and [len(out[i]) for i in ids] == sizes
    joined = np.concatenate([out[i] for i in ids])
    assert joined.min() == 0.0 and joined.max() == 1.0  # range-normalised over both passages together


def test_definition_question_ranks_the_defining_sentence_first(store, fake_encoder):
    q, _, ranking, results = _search(store, fake_encoder, "一网通办是什么")
    assert q.subject == "一网通办" and any(any(v) for v in ranking.defines.values())
    assert results[0].answer.startswith("“一网通办”是指")


def test_results_have_exact_offsets_and_no_overlapping_passages(store, fake_encoder):
    _, _, _, results = _search(store, fake_encoder, "示范区下辖几个街道", top_k=5)
    for r in results:
        assert DOC[r.citation.start:r.citation.end] == r.text
        assert DOC[r.answer_start:r.answer_end] == r.answer and r.answer in r.text
    for i, r in enumerate(results):
        p = store.passages[r.passage_id]
        assert not any(overlaps(p, other.citation, 0.5) for other in results[:i])


def test_answer_span_skips_what_a_higher_result_shows():
    doc = parse_document("x.txt", "标题\n甲事项很重要。乙事项也重要。丙事项最重要。\n")
    p = chunk_document(doc, max_chars=100)[0]
    cfg = SearchConfig(lead_chars=0, neighbour_share=2.0)  # one sentence, never extended
    cos = np.array([0.9, 0.5, 0.1])
    lex = np.zeros(3)
    assert answer_span(p, cos, lex, cfg)[:2] == p.sentences[0]
    assert answer_span(p, cos, lex, cfg, shown=[p.sentences[0]])[:2] == p.sentences[1]
    assert answer_span(p, cos, lex, cfg, shown=[(p.start, p.end)]) is None


def test_answer_span_extends_a_short_lead_sentence():
    doc = parse_document("x.txt", "标题\n四是加强效能建设。具体做法是建立考核制度并公开结果。其他内容。\n")
    p = chunk_document(doc, max_chars=100)[0]
    span = answer_span(p, np.array([0.9, 0.1, 0.1]), np.zeros(3), SearchConfig(lead_chars=20))
    assert doc.text[span[0]:span[1]] == "四是加强效能建设。具体做法是建立考核制度并公开结果。"
    assert span.core == span[:2]  # the lead alone says nothing: the page marks what it leads to


def test_answer_core_is_the_best_sentence_without_its_neighbour():
    doc = parse_document("x.txt", "标题\n同时,受理中心体系建立起来了。市民中心的作用是搭建政社互动的平台。其他内容。\n")
    p = chunk_document(doc, max_chars=100)[0]
    cfg = SearchConfig(lead_chars=0, neighbour_share=0.5)
    span = answer_span(p, np.array([0.5, 0.9, 0.1]), np.zeros(3), cfg)
    assert doc.text[span.start:span.end] == "同时,受理中心体系建立起来了。市民中心的作用是搭建政社互动的平台。"
    assert doc.text[slice(*span.core)] == "市民中心的作用是搭建政社互动的平台。"


def _question(text):
    tok = Tokenizer()
    return analyze(text, clean_query(text), tok)


def test_confidence_needs_the_words_and_a_close_sentence():
    cfg = SearchConfig()
    idf = {"社区": 2.0, "食堂": 2.0}.get
    q = _question("社区食堂提供什么")
    sure = confidence(q, "社区食堂为老人提供午餐服务。", "社区食堂为老人提供午餐服务。", 0.95, np.array([0.9]),
                      np.array([0.95]), lambda w: idf(w) or 1.0, cfg)
    unsure = confidence(q, "示范区面积为一百平方公里。", "示范区面积为一百平方公里。", 0.78, np.array([0.8]),
                        np.array([0.78]), lambda w: idf(w) or 1.0, cfg)
    assert sure >= cfg.min_confidence > unsure


def test_confidence_caps_answers_lacking_what_is_asked():
    cfg = SearchConfig()
    when = _question("平台是什么时候上线的")
    text = "平台上线后办事更方便。"
    assert confidence(when, text, text, 0.99, np.array([0.9]), np.array([0.99]), lambda w: 1.0, cfg) \
        <= cfg.mismatch_cap
    dated = "该平台于2019年上线。"
    assert confidence(when, dated, "平台于2019年上线", 0.99, np.array([0.9]), np.array([0.99]), lambda w: 1.0,
                      cfg) > cfg.mismatch_cap


def test_question_analysis():
    tok = Tokenizer()
    assert quantity_focus("示范区有多少所大学", tok) == "大学"
    # what is counted is a noun: after the question word, or else before it
    assert quantity_focus("示范区有多少个村", tok) == "村"
    assert quantity_focus("示范区有几条地铁线路", tok) == "地铁"  # jieba's "几条": 条 is the unit, not the thing
    assert quantity_focus("服务中心的电话是多少", tok) == "电话"
    assert quantity_focus("示范区的面积有多大", tok) == "面积"
    # not a thing counted: a time question's 几, a ratio's word, a verb before an ordinal or a measure word
    when = _question("示范区是西元几年的事情")
    assert when.asks_when and when.quantity is None
    assert quantity_focus("工业占全区总产值的多少比例", tok) == "总产值"
    assert quantity_focus("示范区的面积位居第几位", tok) is None
    assert quantity_focus("老人享年几岁", tok) is None and count_unit("老人享年几岁") == "岁"
    assert defines("一网通办", "“一网通办”是指只需登录一个网站") and not defines("一网通办", "推进一网通办建设")
    assert _question("作者为什么写这份报告").about_document
    assert not _question("What is it?").chinese
    assert clean_query("？？！！") == "" and clean_query("  ＡＢＣ  ") == "abc"


def test_idf_is_the_bm25_variant_and_falls_with_frequency(store):
    assert bm25_idf(10, 0) > bm25_idf(10, 5) > 0
    assert store.idf("示范区") < store.idf("社区食堂不存在的词")


def test_answer_kind_and_what_a_sentence_holds():
    from pudong_qa.search.answer import holds_kind
    from pudong_qa.search.query import answer_kind, count_unit, counts, mentions_number

    assert answer_kind("平台是哪一年上线的") == "time" and answer_kind("示范区有多少个街道") == "number"
    assert answer_kind("谁提出了这个方案") == "person" and answer_kind("总部设在哪里") == "place"
    assert answer_kind("示范区下辖哪几个街道") is None and answer_kind("一网通办是什么") is None
    assert count_unit("有多少家医院") == "家" and count_unit("组建了哪几个功能区域") is None
    assert counts("各类社会组织达到500多家", "家") and counts("四个新市镇", "个") and not counts("医院很多", "家")
    assert mentions_number("面积569平方公里") and not mentions_number("面积很大")
    assert holds_kind("time", "该平台于2019年上线。", lambda s: frozenset())
    assert not holds_kind("time", "社区食堂为老人提供午餐服务。", lambda s: frozenset())


def test_sentence_prior_prefers_the_sentence_with_the_asked_kind():
    from pudong_qa.search.answer import sentence_prior

    cfg = SearchConfig(kind_weight=0.2, answer_coverage=0.0)
    q = _question("平台是什么时候上线的")
    sentences = ["平台上线后办事更方便。", "该平台于2019年上线。"]
    prior = sentence_prior(q, sentences, lambda s: frozenset(), lambda w: 1.0, cfg)
    assert prior[1] > prior[0]


def test_count_question_needs_a_count_in_the_answer():
    cfg = SearchConfig(count_check=True)
    q = _question("示范区有多少家医院")
    text = "示范区医院的服务水平提高了。"
    assert confidence(q, text, text, 0.99, np.array([0.9]), np.array([0.99]), lambda w: 1.0, cfg) <= cfg.mismatch_cap
    good = "示范区共有12家医院。"
    assert confidence(q, good, good, 0.99, np.array([0.9]), np.array([0.99]), lambda w: 1.0, cfg) > cfg.mismatch_cap


def test_title_score_is_the_share_of_the_title_named():
    from pudong_qa.search.ranking import title_score

    assert title_score("北京大学建于哪一年", "北京大学") == 1.0
    assert title_score("北京的大学有哪些", "北京大学") == 0.5
    assert title_score("上海有多少人", "北京大学") == 0.0
    assert title_score("上海有多少人", "") == 0.0 and title_score("", "北京") == 0.0
    assert title_score("北大学生", "北京 大学") == 0.5  # spaces in a title do not count


def test_title_score_is_the_longest_common_run_of_any_strings():
    import random

    from pudong_qa.search.ranking import title_score

    def brute(query: str, title: str) -> float:
        title = "".join(title.split())
        runs = [n for i in range(len(title)) for n in range(2, len(title) - i + 1) if title[i : i + n] in query]
        return max(runs) / len(title) if runs else 0.0

    rng = random.Random(0)
    for _ in range(3000):
        query = "".join(rng.choice("北京大学建年 a") for _ in range(rng.randint(0, 12)))
        title = "".join(rng.choice("北京大学建年 a") for _ in range(rng.randint(0, 10)))
        assert title_score(query, title) == brute(query, title), (query, title)


def _capped(question: str, answer: str, passage: str | None = None, **cfg) -> bool:
    """Is the confidence held at the mismatch cap, all else being a perfect match?"""
    c = SearchConfig(**cfg)
    sure = confidence(_question(question), answer, passage or answer, 0.99, np.array([0.9]), np.array([0.99]),
                      lambda w: 1.0, c)
    return sure <= c.mismatch_cap


def test_an_amount_in_the_unit_asked_answers_whatever_it_calls_the_quantity():
    from pudong_qa.search.query import asked_measure, states

    tok = Tokenizer()
    assert asked_measure("果实的长度约是多少厘米", tok) == "厘米"
    assert asked_measure("新生儿一天要睡多少个小时", tok) == "小时"  # past the generic 个
    assert asked_measure("工业占全区总产值的多少比例", tok) == "%"
    assert asked_measure("示范区有多少所大学", tok) is None  # 所 counts 大学, which must still be named
    assert states("果实长约15至20厘米", "厘米") and states("占2.1%", "%") and not states("果实很长", "厘米")
    # 长度 is never said, yet the answer gives the length in the unit asked
    assert not _capped("果实的长度约是多少厘米", "果实长约15至20厘米。")
    assert _capped("果实的长度约是多少厘米", "果实长约15至20厘米。", measure_check=False)
    assert _capped("果实的长度约是多少", "果实长得很快。")
    assert not _capped("新生儿一天要睡多少个小时", "新生儿每天睡18小时以上。")
    # 几乎 ("almost") asks for nothing
    assert _question("七十年几乎没有黑子活动是在什么时期").quantity is None


def test_reigns_and_dynasties_date_an_event():
    from pudong_qa.search.query import mentions_time

    for text in ("康熙年间逐渐形成", "始建于南宋", "战国时燕昭王击东胡", "同年辞世", "唐代的诗人"):
        assert mentions_time(text), text
    assert not mentions_time("城中央有镇淮楼") and not mentions_time("宋先生来访")
    assert not _capped("镇淮楼最早于何时兴建", "镇淮楼始建于南宋。")


def test_who_holds_a_role_needs_the_role_named():
    from pudong_qa.search.query import asked_role

    tok = Tokenizer()
    assert asked_role("曹路镇的镇长叫什么名字", tok) == "镇长"  # jieba tags 镇长 a verb: the tail after 的
    assert asked_role("示范区的区委书记是谁", tok) == "区委书记"
    assert asked_role("示范区区长是谁", tok) == "区长"
    assert asked_role("这本书的作者有可能是谁", tok) == "作者"
    assert asked_role("谁是示范区区长", tok) == "区长" and asked_role("请问谁是示范区的区委书记?", tok) == "区委书记"
    assert _capped("谁是服务中心的负责人", "示范区政府与服务中心签订了委托管理协议。")  # the other word order
    assert asked_role("谁提出了这个方案", tok) is None and asked_role("他是谁", tok) is None
    close = "示范区政府与服务中心签订了委托管理协议。"
    assert _capped("服务中心的负责人是谁", close)
    assert not _capped("服务中心的负责人是谁", close, role_check=False)
    assert not _capped("服务中心的负责人是谁", "服务中心的负责人张三主持签约。")


def test_a_year_the_question_names_must_be_in_the_passage():
    from pudong_qa.search.query import names_year

    assert _question("示范区2010年的生产总值是多少").years == ("2010",)
    assert _question("长城已有2000多年历史").years == ()  # a span of time, not a year
    assert _question("平台是2019年还是哪一年上线的").years == ()  # the year is what is asked
    assert names_year("于二零零五年七月迁移", "2005") and names_year("二〇〇五年", "2005")
    assert not names_year("2006年生产总值达到2365亿元", "2010")
    assert _capped("示范区2010年的生产总值是多少", "2006年示范区生产总值达到2365亿元。")
    assert not _capped("示范区2010年的生产总值是多少", "2006年示范区生产总值达到2365亿元。", year_check=False)
    assert not _capped("示范区2006年的生产总值是多少", "2006年示范区生产总值达到2365亿元。")


def test_which_and_several_are_not_how_many():
    assert _question("约束行政效能的制度有哪几种").quantity is None  # asks which, not how many
    assert _question("一条路好几个名字的问题管了没有").quantity is None  # 好几 is "several"
    assert _question("示范区有几种制度").quantity == "制度"
