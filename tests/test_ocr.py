"""Scanned documents (#36): pictures and image-only PDF pages read by OCR, cited by page and line boxes.

The fast tests drive the layout, the cache and the refusals with made-up OCR lines (no model runs);
the slow ones render a made-up Chinese report onto A4 page images (``benchmarks/ocr_pages.py``: a CJK
font, a small turn, noise), save them as an image-only PDF and as pictures, and read them with the real
OCR models. The questions below are written for that report alone.
"""

from __future__ import annotations

import difflib
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from benchmarks.ocr_pages import REPORT, find_font, plain_text, render_report, save_pdf
from pudong_qa.corpus import load_document
from pudong_qa.errors import CorpusError
from pudong_qa.formats import scanned
from pudong_qa.formats.ocr import ocr_context, options_from
from pudong_qa.formats.ocr_cache import OcrCache, OcrLine, OcrPage, cache_folder
from pudong_qa.formats.ocr_layout import build_document, ocr_page_lines, paragraphs
from pudong_qa.indexing.build import read_documents
from pudong_qa.rendering import Card, card_html
from pudong_qa.results import Citation, Result
from pudong_qa.search.scans import LOW_CONFIDENCE_NOTE, cite
from pudong_qa.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
FONT = find_font()


def _line(text: str, x0: int, y0: int, x1: int, conf: float = 0.98) -> OcrLine:
    return OcrLine(text, (x0, y0, x1, y0 + 40), conf)


def _text(lines: list[OcrLine], pages: int = 1) -> str:
    page_list = [OcrPage(n, 1000, 1400, [ln for ln in lines]) for n in range(1, pages + 1)]
    by_page = ocr_page_lines(page_list)
    units = paragraphs([ln for n in sorted(by_page) for ln in by_page[n]])
    return build_document("x.png", units, []).text


# ---------------------------------------------------------------- layout (no model)

def test_two_columns_are_read_left_then_right_under_a_centred_title():
    lines = [_line("清溪区工作报告", 380, 100, 620)]
    for i in range(3):
        end = 470 if i < 2 else 300  # each column's last line stops short: its paragraph ends there
        lines.append(_line(f"右栏第{i + 1}行文字", 530, 200 + 60 * i, 900 if i < 2 else 700))
        lines.append(_line(f"左栏第{i + 1}行文字", 100, 200 + 60 * i, end))
    text = _text(lines)
    assert text.split("\n") == ["清溪区工作报告", "左栏第1行文字左栏第2行文字左栏第3行文字",
                                "右栏第1行文字右栏第2行文字右栏第3行文字"]


def test_lines_join_without_spaces_and_numbers_cut_at_a_line_end_are_rejoined():
    text = _text([_line("要求农田与河岸之间保留不少于5", 100, 200, 900), _line("00公尺的植被隔离区。", 100, 260, 500),
                  _line("新的一段从缩进开始，写到行尾为止还没有", 180, 320, 900), _line("结束。", 100, 380, 200)])
    assert text.split("\n") == ["要求农田与河岸之间保留不少于500公尺的植被隔离区。",
                                "新的一段从缩进开始，写到行尾为止还没有结束。"]


def test_running_headers_and_page_numbers_are_dropped_and_o_among_numerals_is_zero():
    body = [_line("某区报告", 440, 20, 560), _line("二O二五年全区完成治理项目八十六个，比上年", 100, 300, 900),
            _line("增加十个。", 100, 360, 300), _line("- 1 -", 480, 1340, 520)]
    text = _text(body, pages=2)
    assert "某区报告" not in text and "- 1 -" not in text
    assert text.startswith("二〇二五年全区完成治理项目八十六个，比上年增加十个。")


def test_layout_records_each_line_with_offsets_box_and_confidence():
    page = OcrPage(1, 1000, 1400, [_line("第一行文字写满了整整一行的宽度", 100, 200, 900, 0.99),
                                   _line("第二行。", 100, 260, 300, 0.6)])
    doc = build_document("x.png", paragraphs(ocr_page_lines([page])[1]), [{"page": 1, "width": 1000, "height": 1400}])
    (a, b) = doc.layout["lines"]
    assert doc.text[a[0]:a[1]] == "第一行文字写满了整整一行的宽度" and doc.text[b[0]:b[1]] == "第二行。"
    assert a[2:7] == [1, 100, 200, 900, 240] and b[7] == 0.6
    c = cite(Citation("x.png", "x", "", 1, b[0], b[1]), doc.layout)
    assert c.page == 1 and c.boxes == ((0.1, 0.1857, 0.3, 0.2143),) and c.confidence == 0.6


# ---------------------------------------------------------------- citations and cards (no model)

def test_citation_output_of_other_documents_is_unchanged_and_scanned_ones_add_boxes():
    plain = Citation("corpus/a.pdf", "A", "一、", 3, 10, 20, 2)
    assert list(plain.to_dict()) == ["source", "title", "section", "paragraph", "start", "end", "page"]
    scanned_c = Citation("corpus/a.png", "A", "", 1, 0, 5, 1, ((0.1, 0.2, 0.3, 0.25),), 0.6)
    assert scanned_c.to_dict()["boxes"] == ((0.1, 0.2, 0.3, 0.25),)
    assert Citation.from_dict(scanned_c.to_dict()) == scanned_c
    for c, noted in ((scanned_c, True), (plain, False)):
        html = card_html(Card.of(Result(1, 1.0, "文字", "文字", c.start, c.end, c, 0)), "答案", "related")
        assert (LOW_CONFIDENCE_NOTE in html) is noted


# ---------------------------------------------------------------- refusals, cache, skipped pages (no model)

def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def test_corrupt_images_bombs_and_protected_pdfs_are_refused_by_name(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG" * 20)
    (tmp_path / "bomb.png").write_bytes(_png_header(60000, 60000))
    (tmp_path / "sliver.png").write_bytes(_png_header(8000, 40))
    cases = [("broken.jpg", r"^broken\.jpg: not a readable image"), ("bomb.png", r"^bomb\.png: the image is too large"),
             ("sliver.png", r"^sliver\.png: the image has an unusable size")]
    for name, message in cases:
        with pytest.raises(CorpusError, match=message):
            load_document(tmp_path / name, name)
    with pytest.raises(CorpusError, match=r"^encrypted\.pdf: the PDF is password-protected"):
        load_document(FIXTURES / "encrypted.pdf", "encrypted.pdf")


def _page_image(path: Path, blank: bool = False, frames: int = 1) -> None:
    from PIL import Image, ImageDraw

    images = []
    for _ in range(frames):
        image = Image.new("L", (620, 877), 255)
        if not blank:
            ImageDraw.Draw(image).rectangle((60, 100, 560, 130), fill=0)
        images.append(image)
    images[0].save(path, save_all=frames > 1, append_images=images[1:])


@pytest.fixture()
def fake_ocr(monkeypatch):
    """OCR that reads one fixed line off any page with ink on it, counting the pages it is asked to read."""
    calls = []

    def recognise(image, options=None):
        calls.append(image.shape)
        if np.asarray(image).min() > 200:
            return []
        h, w = image.shape[:2]
        return [OcrLine("清溪区滨水绿道全长二十一公里。", (w // 10, h // 3, w - w // 10, h // 3 + h // 30), 0.97)]
    monkeypatch.setattr(scanned, "recognise", recognise)
    return calls


def test_rebuilds_moves_and_restarts_never_read_a_page_twice_and_removal_prunes(tmp_path, fake_ocr):
    settings = Settings(root=tmp_path, cache_dir=tmp_path / "cache")
    (tmp_path / "corpus").mkdir()
    _page_image(tmp_path / "corpus" / "scan.png")
    _page_image(tmp_path / "corpus" / "fax.tif", frames=2)
    reading = read_documents(settings, False, lambda _: None)
    assert len(fake_ocr) == 3 and {d.source for d in reading.documents} == {"corpus/scan.png", "corpus/fax.tif"}
    (doc,) = [d for d in reading.documents if d.source == "corpus/fax.tif"]
    assert [p.page for p in doc.paragraphs] == [1, 2] and doc.layout["lines"][0][2:7] == [1, 62, 292, 558, 321]
    read_documents(settings, False, lambda _: None)  # a rebuild (or a restart: the cache is on disk)
    (tmp_path / "corpus" / "scan.png").rename(tmp_path / "corpus" / "moved.png")
    read_documents(settings, False, lambda _: None)
    assert len(fake_ocr) == 3
    cache = cache_folder(settings.cache_dir, settings.index)
    assert len(list(cache.glob("*.json"))) == 2 and len(list(cache.glob("*.jpg"))) == 3
    (tmp_path / "corpus" / "fax.tif").unlink()
    read_documents(settings, False, lambda _: None)
    assert len(list(cache.glob("*.json"))) == 1 and len(list(cache.glob("*.jpg"))) == 1


def test_a_near_empty_page_is_named_with_its_number_and_the_rest_is_kept(tmp_path, fake_ocr):
    from PIL import Image

    (tmp_path / "corpus").mkdir()
    pages = [Image.new("RGB", (620, 877), "white") for _ in range(3)]
    for i in (0, 2):
        pages[i].paste((0, 0, 0), (60, 100, 560, 130))
    pages[0].save(tmp_path / "corpus" / "report.pdf", "PDF", save_all=True, append_images=pages[1:])
    reading = read_documents(Settings(root=tmp_path, cache_dir=tmp_path / "cache"), False, lambda _: None)
    (doc,) = reading.documents
    assert sorted({p.page for p in doc.paragraphs}) == [1, 3]
    assert [(k.source, k.reason.split(":")[0]) for k in reading.skipped] == [("corpus/report.pdf", "page 2")]


def test_ocr_off_leaves_pictures_unread_by_name(tmp_path):
    from pudong_qa.formats.ocr import OcrOptions

    _page_image(tmp_path / "scan.png")
    with ocr_context(OcrOptions(enabled=False)), pytest.raises(CorpusError, match=r"^scan\.png: OCR is turned off"):
        load_document(tmp_path / "scan.png", "scan.png")


# ---------------------------------------------------------------- the real models (slow)

QUESTIONS = [  # (question, what the answering paragraph says)
    ("全区空气质量优良天数有多少天", "三百一十二天"), ("淘汰了多少辆老旧柴油货车", "一千二百辆"),
    ("新建了多少公里污水管网", "四十七公里"), ("城镇污水处理率是多少", "九十六点五"),
    ("受污染耕地安全利用率达到多少", "百分之九十三"), ("新增屋顶光伏装机容量是多少", "二万三千千瓦"),
    ("新增了多少个公共充电桩", "一千八百个"), ("企业节能改造全年节约标准煤多少", "三点二万吨"),
    ("区财政安排了多少专项资金支持清洁生产", "五千万元"), ("滨水绿道建了多长", "二十一公里"),
    ("湿地公园记录到多少种鸟类", "一百六十七种"), ("农田与河岸之间要保留多宽的植被隔离区", "500公尺"),
    ("布设了多少个空气质量微型监测站", "二百二十个"), ("办结了多少件环境违法案件", "二百一十三件"),
    ("群众投诉平均办理时间缩短到几天", "缩短到三天"), ("臭氧超标主要集中在哪几个月", "六月至八月"),
    ("细颗粒物年均浓度明年控制在多少以内", "二十七"), ("计划完成多少个小区的雨污分流改造", "八十个"),
    ("多少家企业将开展碳足迹评价", "五十家企业"), ("生态环境局的联系电话是多少", "58761234"),
]


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, "".join(a.split()), "".join(b.split()), autojunk=False).ratio()


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    """The report rendered at 200 dpi as a 2-page image-only PDF, and the settings of an index of it."""
    if FONT is None:
        pytest.skip("no CJK font to draw the scanned pages with (apt-get install fonts-noto-cjk: make system-deps)")
    root = tmp_path_factory.mktemp("scans")
    (root / "corpus").mkdir()
    pages = render_report(FONT, dpi=200)
    save_pdf(pages, root / "corpus" / "report-scan.pdf")
    return root, pages, Settings(root=root, cache_dir=root / "cache")


def _read(path: Path, settings: Settings):
    with ocr_context(options_from(settings), OcrCache(cache_folder(settings.cache_dir, settings.index))):
        return load_document(path, path.name)


@pytest.mark.slow
def test_scanned_pdf_is_read_back_with_at_least_98_percent_of_characters(scans):
    root, pages, settings = scans
    doc = _read(root / "corpus" / "report-scan.pdf", settings)
    assert _similar(doc.text, plain_text()) >= 0.98
    assert doc.title == REPORT[0][1] and {p.page for p in doc.paragraphs} == {1, 2}
    for page in pages:  # every paragraph's page is the page it is printed on
        for kind, text in page.blocks:
            if kind == "para":
                found = max(doc.paragraphs, key=lambda p: _similar(doc.text[p.start:p.end], text))
                assert found.page == page.number


@pytest.mark.slow
def test_two_column_photo_and_mixed_pdf_are_read_in_order(scans, tmp_path):
    from pypdf import PdfReader, PdfWriter

    root, pages, settings = scans
    two = render_report(FONT, dpi=150, columns=2, seed=7)[0]
    two.image.save(tmp_path / "two-columns.jpg", quality=85)
    doc = _read(tmp_path / "two-columns.jpg", settings)
    assert _similar(doc.text, two.text) >= 0.98
    save_pdf(pages[1:], tmp_path / "page2.pdf")
    writer = PdfWriter()
    for reader in (PdfReader(FIXTURES / "report.pdf"), PdfReader(tmp_path / "page2.pdf")):
        for page in reader.pages:
            writer.add_page(page)
    writer.write(tmp_path / "mixed.pdf")
    doc = _read(tmp_path / "mixed.pdf", settings)
    text_pages = len(PdfReader(FIXTURES / "report.pdf").pages)
    assert "加强窗口人员培训和考核" in doc.text  # from the text layer
    scanned_part = doc.text[doc.layout["lines"][0][0]:]
    assert _similar(scanned_part, pages[1].text) >= 0.98
    assert {row[2] for row in doc.layout["lines"]} == {text_pages + 1}
    assert {p.page for p in doc.paragraphs} == set(range(1, text_pages + 2))


@pytest.mark.slow
def test_scanned_and_text_versions_answer_alike_and_cite_the_printed_page(scans, model, tmp_path):
    from pudong_qa.index import load_index
    from pudong_qa.indexing import build_index
    from pudong_qa.search import Searcher
    from pudong_qa.service import QAService
    from pudong_qa.web.handlers import ChatPage

    root, pages, settings = scans
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "report.txt").write_text(plain_text(), encoding="utf-8")
    text_settings = Settings(root=tmp_path, cache_dir=tmp_path / "cache")
    build_index(settings, model=model)
    build_index(text_settings, model=model)
    scan_search, text_search = (Searcher(load_index(s.index), model) for s in (settings, text_settings))
    printed = {text: page.number for page in pages for _, text in page.blocks}
    same, cited = 0, []
    for question, snippet in QUESTIONS:
        scan_top, text_top = (s.search(question, top_k=3).results[0] for s in (scan_search, text_search))
        same += _similar(scan_top.text, text_top.text) >= 0.8
        if snippet in scan_top.text:
            block = next(t for t in printed if snippet in t)
            cited.append(scan_top.citation.page == printed[block])
    assert same >= 0.95 * len(QUESTIONS), same
    assert len(cited) >= 0.9 * len(QUESTIONS) and all(cited), cited

    service = QAService(settings, log=lambda _: None)  # the page: boxes in the answer, the page in the source view
    _, resp = service.ask("湿地公园记录到多少种鸟类")
    c = resp.results[0].citation
    assert c.page == 1 and c.boxes and all(0 <= v <= 1 for box in c.boxes for v in box)
    page = ChatPage(service)
    html = page.document(c.source, c.start, c.end, panel=True)
    assert html.count('class="pqa-scan-box"') == len(c.boxes) and "第1页原件" in html
    assert page.page_image(c.source, 1)[:3] == b"\xff\xd8\xff"
    with pytest.raises(KeyError):
        page.page_image(c.source, 9)
    shutil.rmtree(tmp_path / "corpus")


def test_the_title_is_the_largest_print_among_the_centred_lines_opening_the_page():
    lines = [OcrLine("某区生态环境局", (430, 130, 570, 166), 0.99),
             OcrLine("二〇二五年工作报告", (300, 200, 700, 260), 0.99),
             _line("全年完成治理项目八十六个，比上年增加十个，空气质量持续", 100, 300, 900),
             _line("改善。", 100, 360, 200)]
    doc = build_document("x.png", paragraphs(ocr_page_lines([OcrPage(1, 1000, 1400, lines)])[1]), [])
    assert doc.title == "二〇二五年工作报告" and doc.text.split("\n")[0] == "某区生态环境局"


@pytest.mark.slow
def test_a_photographed_png_added_to_a_running_service_is_answered_with_its_page(scans, model, tmp_path):
    from pudong_qa.service import QAService

    _, pages, _ = scans
    (tmp_path / "corpus").mkdir()
    other = "另一份报告\n一、概况\n本区共有社区卫生服务中心十二家。\n"
    (tmp_path / "corpus" / "other.txt").write_text(other, encoding="utf-8")
    settings = Settings(root=tmp_path, cache_dir=tmp_path / "cache", index_poll=0)
    service = QAService(settings, log=lambda _: None)
    photo = tmp_path / "upload" / "photo.png"
    photo.parent.mkdir()
    pages[0].image.rotate(0.8, expand=True, fillcolor="white").save(photo)
    heard = []
    (stored,) = service.store_documents([photo], steps=heard.append)  # as the page's add: read first, then stored
    assert stored.outcome == "added" and [(s.stage, s.done, s.total) for s in heard] == [("ocr", 0, 1), ("ocr", 1, 1)]
    service.rebuild()
    _, resp = service.ask("湿地公园记录到多少种鸟类")
    first = resp.results[0]
    assert first.citation.source == "corpus/photo.png" and first.citation.page == 1 and first.citation.boxes
    assert "一百六十七种" in first.text
