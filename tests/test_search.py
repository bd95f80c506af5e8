import copy

from pudong_qa.index import read_source


def test_definition_question_finds_the_explaining_passage(searcher, project):
    resp = searcher.search("“管办评”里的“评”是指什么", top_k=3)
    assert resp.answered
    top3 = " ".join(r.text for r in resp.results)
    assert "评,就是要建立专业化的社会评估机构" in top3
    settings = project[0]
    for r in resp.results:
        c = r.citation
        source = read_source(settings.index, c.source)
        assert source[c.start:c.end] == r.text
        assert r.answer in r.text and source[r.answer_start:r.answer_end] == r.answer
        assert c.section.startswith("二、浦东新区政府管理创新的基本情况")
        assert c.title == "镇政府干部到上海浦东挂职的学习报告"


def test_unrelated_question_is_marked_low_confidence(searcher):
    resp = searcher.search("明天去北京的高铁票怎么买", top_k=3)
    assert not resp.answered
    assert len(resp.results) == 3  # closest passages are still returned


def test_empty_question_gives_no_results(searcher):
    resp = searcher.search("   ")
    assert resp.results == [] and not resp.answered


def test_results_are_ranked_and_scored(searcher):
    resp = searcher.search("浦东新区下辖多少个街道办事处", top_k=5)
    assert [r.rank for r in resp.results] == [1, 2, 3, 4, 5]
    scores = [r.score for r in resp.results]
    assert scores == sorted(scores, reverse=True)
    assert "11个街道办事处" in resp.results[0].text


def _ids(resp):
    return [r.passage_id for r in resp.results]


def test_traditional_and_full_width_questions_match_simplified(searcher):
    assert _ids(searcher.search("醫療聯合體是什麼時候組建的")) == _ids(searcher.search("医疗联合体是什么时候组建的"))
    assert _ids(searcher.search("ＧＩＳ系统升级，")) == _ids(searcher.search("GIS系统升级,"))
    assert _ids(searcher.search("  浦东新区   下辖 多少个  街道？")) == _ids(searcher.search("浦东新区下辖多少个街道?"))


def test_english_question_finds_the_passage(searcher):
    resp = searcher.search("When was the medical alliance set up?", top_k=3)
    assert any("合作组建了医疗联合体" in r.text for r in resp.results)


def test_question_about_the_document_itself_finds_the_preamble(searcher):
    resp = searcher.search("作者在哪个镇挂职?", top_k=1)
    assert resp.results[0].citation.section == "" and "曹路镇" in resp.results[0].text


def test_expected_answer_type_checks(searcher):
    # "how many X" needs X named; "when" needs a date in the answer
    assert searcher.search("浦东新区下辖多少个街道办事处").answered
    assert not searcher.search("浦东新区有多少所大学").answered
    assert searcher.search("医疗联合体是什么时候组建的").answered
    assert not searcher.search("曹路镇是什么时候成立的").answered


def test_one_question_gets_the_same_answer_as_in_a_batch_and_stale_lexical_scores_are_redone(searcher):
    import numpy as np

    from pudong_qa.search.query import clean_query
    from pudong_qa.search.searcher import LexicalResult

    questions = ["浦东新区下辖多少个街道办事处", "管办评是什么"]
    alone = [searcher.search(q, top_k=3) for q in questions]  # lexical stage beside the embedding
    batch = searcher.search_many(questions, top_k=3)
    assert [_ids(r) for r in alone] == [_ids(r) for r in batch]
    assert [r.answered for r in alone] == [r.answered for r in batch]
    q = questions[0]
    qvec = searcher.model.encode_queries([clean_query(q)])[0]
    index = searcher.index
    n, m = len(index.passages), len(index.store.sentence_owner)
    stale = LexicalResult(copy.copy(index), np.ones(n, dtype=np.float32), np.ones(m, dtype=np.float32), 0.0)
    assert _ids(searcher.search_vector(q, clean_query(q), qvec, 3, lexical=stale)) == _ids(alone[0])
    wrong = LexicalResult(index, np.zeros(n, dtype=np.float32), np.zeros(m, dtype=np.float32), 0.0)
    assert searcher.search_vector(q, clean_query(q), qvec, 3, lexical=wrong).timings["bm25"] == 0.0


def test_a_single_questions_lexical_stage_runs_while_it_is_embedded(project, model):
    """The chat page's question: BM25 does not wait for the query vector (at a million passages
    both take ~20 ms). The encoder below refuses to finish until the lexical stage has run."""
    import threading

    from pudong_qa.index import load_index
    from pudong_qa.search.searcher import Searcher

    index = load_index(project[0].index)
    lexical_ran = threading.Event()
    scores = index.store.lexical_scores
    index.store.lexical_scores = lambda tokens: lexical_ran.set() or scores(tokens)

    class WaitsForLexical:
        dim = model.dim

        def encode_queries(self, texts, batch_size=64):
            assert lexical_ran.wait(10), "the lexical stage waited for the embedding"
            return model.encode_queries(texts, batch_size=batch_size)

    resp = Searcher(index, WaitsForLexical()).search("浦东新区的面积有多大", top_k=1)
    assert resp.answered and "569平方公里" in resp.results[0].answer


def test_a_question_naming_an_article_gets_the_passage_on_what_it_asks_not_the_articles_lead(tmp_path, model):
    """Three short articles (tests/fixtures/trees, written for this test): each lead names the
    subject, so it is the closest passage to any question about it in the dense score; what the
    question asks besides the title (the leaves) picks the passage that answers."""
    import shutil
    from pathlib import Path

    from pudong_qa.index import load_index
    from pudong_qa.indexing import build_index
    from pudong_qa.search.searcher import Searcher
    from pudong_qa.settings import Settings

    shutil.copytree(Path(__file__).parent / "fixtures" / "trees", tmp_path / "corpus")
    settings = Settings(root=tmp_path)
    build_index(settings, model=model)
    calls = []

    class Counting:
        dim = model.dim

        def encode_queries(self, texts, batch_size=64):
            calls.append(list(texts))
            return model.encode_queries(texts, batch_size=batch_size)

    searcher = Searcher(load_index(settings.index), Counting())
    questions = ["银杏的叶子是什么形状", "水杉的叶子是什么样的"]
    batch = searcher.search_many(questions, top_k=3)
    assert calls == [[*questions, "叶子是什么形状", "叶子是什么样的"]]  # the aspects ride in the questions' batch
    for resp, leaf in zip(batch, ["叶呈扇形", "叶为条形"]):
        assert leaf in resp.results[0].answer and resp.answered  # the title counts as said in its passages
    assert [_ids(searcher.search(q, top_k=3)) for q in questions] == [_ids(r) for r in batch]
    assert searcher.aspect_text("银杏是什么") == "是什么"  # embedded, but the question asks nothing besides:
    assert "活化石" in searcher.search("银杏是什么").results[0].answer  # the lead still answers


def test_the_verdict_follows_the_confidence_and_the_record_is_the_contract(searcher):
    from pudong_qa.results import ANSWERED, NOT_FOUND, UNSURE
    from pudong_qa.search.ranking import SearchConfig
    from pudong_qa.search.searcher import Searcher

    resp = searcher.search("浦东新区面积多大", top_k=3)
    assert resp.verdict == (NOT_FOUND if not resp.answered else ANSWERED if resp.confidence >= 0.5 else UNSURE)
    assert list(resp.to_dict()) == ["question", "answered", "verdict", "expansions", "results"]
    never_sure = SearchConfig(min_confidence=0.0, sure_confidence=1.01)  # every answer below "sure"
    low = Searcher(searcher.index, searcher.model, never_sure).search("浦东新区面积多大", top_k=3)
    assert low.answered and low.verdict == UNSURE  # answered for the contract, not confirmed for people
