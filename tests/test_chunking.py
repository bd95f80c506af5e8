
from conftest import ROOT

from pudong_qa.chunking import chunk_corpus, chunk_document, split_sentences
from pudong_qa.corpus import load_corpus, parse_document


def _texts(text):
    return [text[s:e] for s, e in split_sentences(text)]


def test_split_on_mixed_full_and_half_width_punctuation():
    text = "一是准;二是通。他问:“为什么?”答曰:“好!”真的?Yes! 三是透；完"
    assert _texts(text) == ["一是准;", "二是通。", "他问:“为什么?”", "答曰:“好!”", "真的?", "Yes!", "三是透；", "完"]


def test_decimal_points_do_not_split_but_final_period_does():
    text = "人口188.55万,面积569平方公里.下一句。"
    assert _texts(text) == ["人口188.55万,面积569平方公里.", "下一句。"]


def test_line_breaks_end_sentences():
    assert _texts("第一行没有标点\n第二行") == ["第一行没有标点", "第二行"]


def test_long_sentence_is_cut_at_a_comma():
    body = ",".join(["这是一个很长的分句内容"] * 40) + "。"
    doc = parse_document("corpus/x.txt", "标题\n" + body + "\n")
    passages = chunk_document(doc, max_chars=100)
    assert len(passages) > 1
    assert all(len(p.text) <= 100 for p in passages)
    assert all(p.text.endswith((",", "。")) for p in passages)
    assert "".join(p.text for p in passages) == body


def test_passages_never_cross_paragraphs_and_respect_limit():
    docs = load_corpus(ROOT / "corpus", ROOT)
    passages = chunk_corpus(docs)
    paras = {p.number: p for p in docs[0].paragraphs}
    for p in passages:
        para = paras[p.paragraph]
        assert para.start <= p.start < p.end <= para.end
        assert len(p.text) <= 300


def test_every_passage_and_sentence_offset_is_exact():
    docs = load_corpus(ROOT / "corpus", ROOT)
    source = {d.source: d.text for d in docs}
    passages = chunk_corpus(docs)
    assert passages
    for p in passages:
        text = source[p.source]
        assert text[p.start:p.end] == p.text
        for (s, e), sent in zip(p.sentences, p.sentence_texts()):
            assert text[s:e] == sent and p.start <= s < e <= p.end
    # heading paths are recorded but never part of the cited text
    assert any(p.section for p in passages)
    assert not any(p.text.startswith(p.section) for p in passages if p.section)


def test_overlapping_windows_cover_every_boundary():
    body = "".join(f"第{i}句话的内容在这里写得比较长一些。" for i in range(30))
    doc = parse_document("corpus/x.txt", "标题\n" + body + "\n")
    plain = chunk_document(doc, max_chars=100)
    windows = chunk_document(doc, max_chars=100, overlap=True)
    assert len(windows) > len(plain)
    assert all(len(p.text) <= 100 and doc.text[p.start:p.end] == p.text for p in windows)
    # every boundary between two packed passages lies strictly inside some window
    for a, b in zip(plain, plain[1:]):
        assert any(w.start < a.end and w.end > b.start for w in windows)
    assert windows[0].start == plain[0].start and windows[-1].end == plain[-1].end
