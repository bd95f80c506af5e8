"""The passage columns read back exactly what chunking produced, without decoding every passage."""

import numpy as np
import pytest

from pudong_qa.chunking import Passage
from pudong_qa.disk.rowfile import NpyRows
from pudong_qa.passages import PassageTable, labels, outline, passages_of, read_passages, write_passages
from pudong_qa.stores import sentence_layout


def _passages() -> list[Passage]:
    text = "第一章 总则。浦东新区成立于1990年；面积1210平方公里！"
    return [
        Passage(0, "corpus/a.txt", "甲报告", "第一章 > 一、概况", 1, 0, 7, text[0:7], ((0, 7),)),
        Passage(1, "corpus/a.txt", "甲报告", "", 2, 7, 30, text[7:30], ((7, 20), (20, 30))),
        Passage(2, "corpus/b.pdf", "乙", "附录", 5, 3, 9, "page 2 text", ((3, 9),), page=2),
        Passage(3, "corpus/c.md", "", "", 1, 0, 0, "", ()),
    ]


def test_columns_round_trip(tmp_path):
    passages = _passages()
    write_passages(tmp_path, passages)
    table = read_passages(tmp_path)
    assert isinstance(table, PassageTable)
    assert len(table) == 4 and list(table) == passages
    assert table[1] == passages[1] and table[-1] == passages[3] and table[1:3] == passages[1:3]
    assert table[2].page == 2 and table[0].page is None
    assert [p.sentence_texts() for p in table] == [p.sentence_texts() for p in passages]
    with pytest.raises(IndexError):
        table[4]
    offsets, owner = sentence_layout(table)
    want_offsets, want_owner = sentence_layout(passages)
    assert offsets.tolist() == want_offsets.tolist() and owner.tolist() == want_owner.tolist()


def test_one_documents_passages_without_a_scan(tmp_path):
    write_passages(tmp_path, _passages())
    table = read_passages(tmp_path)
    assert list(table.of_source("corpus/a.txt")) == [0, 1]
    assert [p.id for p in passages_of(table, "corpus/b.pdf")] == [2]
    assert passages_of(table, "corpus/none.txt") == []
    assert passages_of(_passages(), "corpus/a.txt") == _passages()[:2]


def test_ids_must_be_positions(tmp_path):
    shifted = [Passage(**{**vars(p), "id": p.id + 1}) for p in _passages()]
    with pytest.raises(ValueError, match="ids"):
        write_passages(tmp_path / "x", shifted)


def test_outline_from_columns_equals_outline_from_passages(tmp_path):
    write_passages(tmp_path, _passages())
    table = read_passages(tmp_path)
    for source in ("corpus/a.txt", "corpus/b.pdf", "corpus/none.txt"):
        assert outline(table, source) == outline(_passages(), source)
    assert outline(table, "corpus/a.txt") == (["第一章 > 一、概况", ""], 2)


def test_rows_are_read_from_the_file_in_runs(tmp_path):
    matrix = np.arange(40, dtype=np.float32).reshape(10, 4)
    np.save(tmp_path / "m.npy", matrix)
    rows = NpyRows(tmp_path / "m.npy")
    assert len(rows) == 10 and rows.shape == (10, 4)
    for ids in ([3], [0, 1, 2, 7, 8, 9], [5, 2, 3], [], list(range(10))):
        assert np.array_equal(rows[ids], matrix[ids])
    assert np.array_equal(rows.read(8, 20), matrix[8:])
    with pytest.raises(IndexError):
        rows[[10]]
    np.save(tmp_path / "v.npy", np.frombuffer("浦东".encode(), dtype=np.uint8))
    assert NpyRows(tmp_path / "v.npy").read(0, 6).tobytes().decode() == "浦东"
    (tmp_path / "short.npy").write_bytes((tmp_path / "m.npy").read_bytes()[:-4])
    with pytest.raises(ValueError, match="shorter"):
        NpyRows(tmp_path / "short.npy")


def test_folded_texts_are_stored_as_normalize_folds_them(tmp_path):
    from pudong_qa.tokenize import normalize

    passages = [Passage(0, "d.txt", "", "", 1, 0, 11, "臺灣的ＡＢＣ。第二句！", ((0, 7), (7, 11))), *_passages()[1:]]
    passages = [Passage(**{**vars(p), "id": i}) for i, p in enumerate(passages)]
    write_passages(tmp_path, passages)
    table = read_passages(tmp_path)
    for i, p in enumerate(passages):
        assert table.folded(i) == (normalize(p.text), [normalize(s) for s in p.sentence_texts()])
    assert table.folded(0)[0] == "台湾的abc。第二句!"


def test_labels_come_from_the_columns(tmp_path):
    write_passages(tmp_path, _passages())
    table = read_passages(tmp_path)
    for name in ("source", "title", "section"):
        assert labels(table, name, [3, 0, 2]) == labels(_passages(), name, [3, 0, 2]) \
            == [getattr(_passages()[i], name) for i in (3, 0, 2)]


def test_walking_the_table_in_blocks_decodes_each_passage_as_alone(tmp_path, monkeypatch):
    from pudong_qa import passages as passages_mod

    passages = _passages()
    write_passages(tmp_path, passages)
    table = read_passages(tmp_path)
    for block in (1, 3, 100):  # blocks that split the table, and one that holds it whole
        monkeypatch.setattr(passages_mod, "ITER_BLOCK", block)
        assert list(table) == passages == [table._passage(i) for i in range(len(table))]
    assert table[1:3] == passages[1:3] and table[3:1] == [] and table[::2] == passages[::2]


def test_a_rebuild_reuses_stored_folds_and_writes_the_same_files(tmp_path):
    from pudong_qa.tokenize import normalize

    passages = [Passage(0, "d.txt", "", "", 1, 0, 11, "臺灣的ＡＢＣ。第二句！", ((0, 7), (7, 11))), *_passages()[1:]]
    passages = [Passage(**{**vars(p), "id": i}) for i, p in enumerate(passages)]
    for name in ("first", "again", "given"):
        (tmp_path / name).mkdir()
    write_passages(tmp_path / "first", passages)
    folds = read_passages(tmp_path / "first").folds()
    pieces = {piece for p in passages for piece in (p.text, *p.sentence_texts())}
    assert folds == {piece: normalize(piece) for piece in pieces}
    write_passages(tmp_path / "again", passages, folds)
    for name in ("folded.npy", "folded_offsets.npy", "text.npy", "columns.npy"):
        first, again = (tmp_path / d / "passages" / name for d in ("first", "again"))
        assert first.read_bytes() == again.read_bytes()
    # what is given is used as it is (only texts it lacks are folded)
    write_passages(tmp_path / "given", passages, {"臺灣的ＡＢＣ。": "given"})
    assert read_passages(tmp_path / "given").folded(0) == (normalize(passages[0].text), ["given", "第二句!"])
