from pudong_qa.corpus import parse_document
from pudong_qa.tokenize import Tokenizer, corpus_terms, normalize, normalize_all


def test_normalize_folds_traditional_and_width():
    assert normalize("管辦評是什麼") == "管办评是什么"
    assert normalize("ＡＢＣ１２３，") == "abc123,"


def test_question_words_and_punctuation_are_dropped():
    toks = Tokenizer().tokens("浦东新区的面积有多大?")
    assert "面积" in toks and "浦东" in toks
    assert not {"的", "有", "多大", "?"} & set(toks)


def test_traditional_query_tokenizes_like_simplified():
    tok = Tokenizer()
    assert tok.tokens("浦東新區的面積") == tok.tokens("浦东新区的面积")


def test_corpus_terms_come_from_quotes_titles_and_headings():
    doc = parse_document("corpus/a.txt", "标题\n一、小政府模式\n推行“一门式”服务和《行政效能暂行办法》。\n")
    terms = corpus_terms([doc])
    assert "一门式" in terms and "行政效能暂行办法" in terms and "小政府模式" in terms
    assert corpus_terms([doc], [normalize(doc.text)]) == terms  # folded by the caller: the same terms


def test_user_words_are_kept_whole():
    assert "一门式" in Tokenizer(["一门式"]).tokens("推行一门式服务")


def test_a_texts_tokens_depend_only_on_the_corpus_terms_it_contains():
    # what incremental builds rely on to reuse the tokens of unchanged texts
    text = "推行一门式服务，提高行政效能"
    others = [f"未见词{i:03d}" for i in range(300)]
    assert Tokenizer(["一门式", *others]).tokens(text) == Tokenizer(["一门式"]).tokens(text)
    assert Tokenizer(others)._get().total == Tokenizer()._get().total  # jieba's path scores unchanged


def test_tokenizers_in_one_process_share_jiebas_dictionary_but_not_their_corpus_terms():
    # a rebuild in the chat page makes a new tokenizer beside the serving one: jieba's own
    # dictionary is loaded once per process, each tokenizer adds its terms to its own copy
    first, second = Tokenizer(["一门式"]), Tokenizer()
    assert "一门式" in first.tokens("推行一门式服务") and "一门式" not in second.tokens("推行一门式服务")
    assert first._get().FREQ is not second._get().FREQ and second._get().FREQ.get("一门式") is None
    assert first.tokens("推行一门式服务") == Tokenizer(["一门式"]).tokens("推行一门式服务")
    # the part-of-speech tagger too: each over its own tokenizer, jieba's tags read once
    assert ("一门式", "x") in first.tagged("推行一门式服务")
    assert "一门式" not in dict(second.tagged("推行一门式服务"))
    assert dict(second.tagged("浦东新区有多少个村"))["浦东新区"] == "ns"
    assert first._posseg.word_tag_tab is not second._posseg.word_tag_tab


def test_only_terms_new_to_jieba_change_its_dictionary():
    changes = Tokenizer(["经济", "一门式"]).dictionary_changes()
    assert set(changes) == {"一门式"} and changes["一门式"] > 0


def test_normalize_all_equals_normalize_one_by_one():
    texts = ["臺灣的ＡＢＣ", "第一句。", "两行\n文本", "㈠ 政府", ""]
    assert normalize_all(texts) == [normalize(t) for t in texts]
    assert normalize_all(texts[:2]) == [normalize(t) for t in texts[:2]]
    assert normalize_all(["單"]) == ["单"]


def test_warm_up_loads_the_part_of_speech_tables_a_quantity_question_needs():
    tok = Tokenizer(["功能区域"])
    tok.warm_up()  # at start-up, beside the model: not on the first "how many" question
    assert tok._posseg is not None
    tagged = dict(tok.tagged("浦东有几个功能区域"))
    assert tagged["功能区域"] == "x" and tok.is_noun(tagged["功能区域"])  # a corpus term counts as a noun


def test_jiebas_dictionary_kept_as_plain_files_is_jiebas_own(tmp_path):
    import jieba
    import numpy as np

    from pudong_qa import tokenize

    folder = tokenize._dictionary_cache(tmp_path)
    assert folder.is_relative_to(tmp_path) and tokenize._read_dictionary(folder) is None
    freq, total = tokenize._jieba_dictionary(folder)  # jieba's load, then the files are written
    own = jieba.Tokenizer()
    own.initialize()
    assert (freq, total) == (own.FREQ, own.total)
    assert tokenize._read_dictionary(folder) == (own.FREQ, own.total)
    np.save(folder / "counts.npy", np.zeros(3, dtype=np.int64))  # damaged: not used
    assert tokenize._read_dictionary(folder) is None
