"""Regenerate tests/fixtures/formats/: small files in each supported format, made by real producers.

Word files come from python-docx, PDFs from headless Chromium's ``--print-to-pdf`` (as a browser or a
report generator would print them), encrypted PDFs from pypdf, and the text files are the same report
saved in GBK, Big5 and UTF-16. All Chinese text here is original (a made-up district, 临江区).

    .venv/bin/python scripts/make_format_fixtures.py          # needs Debian: chromium fonts-wqy-microhei

The fixtures are committed, so the tests never need Chromium; rerun this only to change them.
"""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import subprocess
import tempfile
from pathlib import Path

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.shared import Pt
from pypdf import PdfReader, PdfWriter

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "formats"
FIXED_TIME = dt.datetime(2024, 3, 1, 9, 0, 0)

TITLE = "临江区2023年公共服务工作报告"
# (heading level, heading, paragraphs); level 0 = body only
SECTIONS: list[tuple[str, list[tuple[str, list[str]]]]] = [
    ("一、基本情况", [
        ("（一）服务网络", [
            "全区建成街道便民服务中心9个、社区服务站86个，群众办理高频事项步行距离平均缩短到十五分钟以内。",
            "各服务站统一设置综合受理窗口，实行一窗受理、集成服务，全年受理各类事项约42万件。",
        ]),
        ("（二）数字服务", [
            "区政务服务平台上线事项1270项，其中可全程网办事项占比达到百分之八十三，群众满意度持续提升。",
        ]),
    ]),
    ("二、存在问题", [
        ("（一）区域发展不均衡", [
            "北部新建小区配套设施建设滞后，部分社区托育和养老服务供给不足，居民反映较为集中。",
        ]),
        ("（二）队伍能力有待提高", [
            "基层窗口人员流动较快，业务培训覆盖不全，个别事项仍存在标准不一、解释口径不统一的情况。",
        ]),
    ]),
    ("三、下一步工作", [
        ("", [
            "坚持以居民需求为导向，完善服务设施布局，推动公共服务向基层延伸、向数字化转型。",
            "力争到2025年底实现社区养老服务站全覆盖，新增普惠托育托位600个。",
        ]),
    ]),
]
TABLE = [["指标", "2022年", "2023年"], ["便民服务中心（个）", "7", "9"], ["网办事项占比", "76%", "83%"]]
HEADER_TEXT = "临江区人民政府办公室 内部资料"
FOOTER_TEXT = "请勿外传 第1页"


def _fixed(document: docx.document.Document, title: str | None) -> None:
    props = document.core_properties
    props.title = title or ""
    props.author = "临江区政府办"
    props.created = props.modified = FIXED_TIME
    props.last_modified_by = ""
    props.revision = 1


def make_docx_styles(path: Path) -> None:
    """Title + Heading 1/2 styles, a table and a header/footer (which the reader must leave out)."""
    document = docx.Document()
    _fixed(document, TITLE)
    section = document.sections[0]
    section.header.paragraphs[0].text = HEADER_TEXT
    section.footer.paragraphs[0].text = FOOTER_TEXT
    document.add_paragraph(TITLE, style="Title")
    for h1, subs in SECTIONS:
        document.add_heading(h1, level=1)
        for h2, paras in subs:
            if h2:
                document.add_heading(h2, level=2)
            for text in paras:
                document.add_paragraph(text)
        if h1.startswith("一"):
            table = document.add_table(rows=0, cols=3)
            for row in TABLE:
                cells = table.add_row().cells
                for cell, value in zip(cells, row):
                    cell.text = value
    document.save(path)


def make_docx_cn_styles(path: Path) -> None:
    """Headings in custom styles named 标题 1 / 标题 2 (as some Chinese editors write), no core title."""
    document = docx.Document()
    _fixed(document, None)
    for level in (1, 2):
        style = document.styles.add_style(f"标题 {level}", WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = document.styles["Normal"]
        style.font.bold = True
        style.font.size = Pt(16 - 2 * level)
    document.add_paragraph("临江区社区服务站建设情况说明")
    document.add_paragraph("一、建设进展", style="标题 1")
    document.add_paragraph("今年新建社区服务站12个，全部按照统一标准配置窗口和自助终端。")
    document.add_paragraph("二、运行管理", style="标题 1")
    document.add_paragraph("（一）人员配备", style="标题 2")
    document.add_paragraph("每个服务站配备专职工作人员不少于三名，实行错时延时服务。")
    document.save(path)


def make_docx_numbered(path: Path) -> None:
    """No heading styles at all: the headings are only numbered lines (一、 （一） 1、)."""
    document = docx.Document()
    _fixed(document, None)
    document.add_paragraph("关于优化政务服务窗口的实施意见")
    document.add_paragraph("一、总体要求")
    document.add_paragraph("以方便群众办事为出发点，全面推行综合窗口改革。")
    document.add_paragraph("（一）工作目标")
    document.add_paragraph("1、压缩办理时限。一般事项办理时限压缩到法定时限的一半以内。")
    document.add_paragraph("二、保障措施")
    document.add_paragraph("各街道要明确责任分工，定期通报工作进展。")
    document.save(path)


def make_corrupt_docx(source: Path, path: Path) -> None:
    """A Word file cut off halfway, as an interrupted download leaves it."""
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])


# Chromium (>= 131) prints CSS @page margin boxes, so the running header and the folio repeat on
# every page as a report generator would print them, and the body flows over the page break.
PDF_CSS = """
@page { size: A5; margin: 16mm 14mm;
  @top-left { content: "%(header)s"; font: 8pt 'WenQuanYi Micro Hei'; }
  @bottom-center { content: "第 " counter(page) " 页 共 " counter(pages) " 页"; font: 8pt 'WenQuanYi Micro Hei'; } }
body { font-family: 'WenQuanYi Micro Hei', 'Noto Sans CJK SC', sans-serif; font-size: 11pt; line-height: 1.6; }
h1 { font-size: 15pt; text-align: center; font-weight: normal; }
h2 { font-size: 12pt; margin: 3mm 0 1mm; font-weight: normal; }
p { text-indent: 2em; margin: 0 0 1mm; text-align: justify; orphans: 1; widows: 1; }
"""  # font-weight normal: WenQuanYi has no bold, and Skia prints synthetic bold as bulky Type 3 fonts
PDF_EXTRA = {  # longer paragraphs, so lines wrap mid-sentence and one paragraph runs over the page break
    "（一）服务网络": "在服务方式上，各街道推行预约办理、帮办代办和上门服务，为老年人、残疾人等群体提供更加"
                 "贴心的帮助，全年累计提供上门服务三千余次，得到群众普遍好评，相关做法被列入全市推广案例。",
    "（二）数字服务": "区政务服务平台与市级平台实现数据共享，企业开办、不动产登记等事项实现一网通办，申请材料"
                 "平均减少百分之四十，办理时间平均缩短一半以上，线上线下服务标准保持一致。",
    "（一）区域发展不均衡": "南部老城区服务站用房面积普遍偏小，部分站点无法设置无障碍通道和母婴室，设施更新改造"
                      "需要统筹安排资金，并与老旧小区改造同步推进，力争三年内完成全部站点的提升改造。",
    "（二）队伍能力有待提高": "同时，要加强窗口人员培训和考核，建立服务质量评价结果定期通报制度，把群众的评价"
                      "作为改进工作的重要依据，切实提高公共服务的质量和水平。",
}


def _pdf_html() -> str:
    blocks: list[str] = [f"<h1>{TITLE}</h1>"]
    for h1, subs in SECTIONS:
        blocks.append(f"<h2>{h1}</h2>")
        for h2, paras in subs:
            if h2:
                blocks.append(f"<h2>{h2}</h2>")
            blocks.extend(f"<p>{text}</p>" for text in [*paras, PDF_EXTRA.get(h2, "")] if text)
    css = PDF_CSS % {"header": HEADER_TEXT}
    return (f"<!doctype html><html><head><meta charset='utf-8'><style>{css}</style></head>"
            f"<body>{''.join(blocks)}</body></html>")


def _chromium(args: list[str], cwd: Path) -> None:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not exe:
        raise SystemExit("chromium not found: apt-get install -y chromium fonts-noto-cjk")
    profile = cwd / "profile"
    subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", *args],
        check=True, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120,
    )


def _print_pdf(html: str, path: Path, work: Path) -> None:
    page = work / "page.html"
    page.write_text(html, encoding="utf-8")
    _chromium(["--no-pdf-header-footer", f"--print-to-pdf={path}", page.as_uri()], work)


def make_pdf(path: Path, work: Path) -> None:
    """Two A5 pages: running header and 第 N 页 folio on each, wrapped CJK lines, numbered headings."""
    _print_pdf(_pdf_html(), path, work)


def make_scanned_pdf(path: Path, work: Path) -> None:
    """A page that is only a picture of text (like a scan): no text layer at all."""
    shot_html = work / "shot.html"
    shot_html.write_text("<!doctype html><meta charset='utf-8'><body style='font:20px sans-serif;margin:10px'>"
                         "临江区社区服务站（扫描件）</body>", encoding="utf-8")
    _chromium(["--screenshot=shot.png", "--window-size=360,60", shot_html.as_uri()], work)
    png = base64.b64encode((work / "shot.png").read_bytes()).decode("ascii")
    _print_pdf(f"<!doctype html><body style='margin:0'><img src='data:image/png;base64,{png}'></body>", path, work)


def make_encrypted_pdf(source: Path, path: Path) -> None:
    """The text PDF locked with a user password."""
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    with path.open("wb") as f:
        writer.write(f)


NEWS_HTML = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>临江区新增十二处社区养老服务站_要闻动态_临江区人民政府</title>
</head>
<body>
<div class="top-bar">临江区人民政府门户网站 <a href="/en/">English</a> <a href="/wza/">无障碍</a></div>
<header class="site-header">
  <nav class="main-nav"><ul>
    <li><a href="/">首页</a></li><li><a href="/zwgk/">政务公开</a></li><li><a href="/bsfw/">办事服务</a></li>
    <li><a href="/hdjl/">互动交流</a></li><li><a href="/zjlj/">走进临江</a></li>
  </ul></nav>
</header>
<div class="breadcrumb">当前位置：<a href="/">首页</a> &gt; <a href="/ywdt/">要闻动态</a></div>
<div class="main">
 <article class="article">
  <h1>临江区新增十二处社区养老服务站</h1>
  <div class="meta">发布时间：2024-03-15 来源：区民政局 浏览次数：1024</div>
  <div class="content">
   <p>记者从区民政局获悉，今年以来临江区新建成社区养老服务站十二处，覆盖八个街道，可为周边约三万名老年人提供助餐、日间照料和康复护理等服务。</p>
   <h2>助餐服务走进家门口</h2>
   <p>新建的服务站均设有老年食堂或助餐点，每天提供两荤两素的午餐，八十岁以上老人可享受每餐三元的补贴。</p>
   <p>对于行动不便的老人，服务站还与周边餐饮企业合作，安排志愿者送餐上门。</p>
   <h2>专业护理延伸到社区</h2>
   <p>区民政局通过公开招标引入三家专业养老机构运营服务站，护理人员全部持证上岗，定期开展健康评估和康复训练。</p>
   <p>下一步，临江区将继续推进养老服务设施建设，力争年底前实现社区养老服务全覆盖。</p>
  </div>
  <div class="article-tools"><a href="/tougao/">我要投稿</a> <a href="javascript:window.print()">打印本页</a>
   <a href="javascript:window.close()">关闭窗口</a> 分享到：<a href="#">微信</a> <a href="#">微博</a></div>
 </article>
 <aside class="related">
  <h3>相关文章</h3>
  <ul>
   <li><a href="/ywdt/1.html">临江区召开养老服务工作推进会</a></li>
   <li><a href="/ywdt/2.html">全区首家嵌入式养老院投入运营</a></li>
   <li><a href="/ywdt/3.html">区领导调研社区助餐点建设情况</a></li>
  </ul>
 </aside>
</div>
<footer class="site-footer">
 <p>主办单位：临江区人民政府办公室 承办：临江区大数据中心</p>
 <p>网站标识码：0000000000 备案号：临ICP备00000000号 <a href="/sitemap/">网站地图</a> <a href="/lxwm/">联系我们</a></p>
</footer>
</body>
</html>
"""

REPORT_TEXT = f"""{TITLE}

一、基本情况
全区建成街道便民服务中心9个、社区服务站86个，群众办理高频事项步行距离平均缩短到十五分钟以内。
区政务服务平台上线事项1270项，其中可全程网办事项占比达到百分之八十三。
二、存在问题
北部新建小区配套设施建设滞后，部分社区托育和养老服务供给不足。
三、下一步工作
坚持以居民需求为导向，完善服务设施布局，推动公共服务向基层延伸。
"""

BIG5_TEXT = """臨江區社區服務報告

一、服務網絡
全區建成社區服務站八十六個，居民辦理常用事項更加方便。
二、下一步工作
繼續完善服務設施布局，提升服務品質與效率。
"""


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    make_docx_styles(OUT / "report.docx")
    make_docx_cn_styles(OUT / "report_cn_styles.docx")
    make_docx_numbered(OUT / "report_numbered.docx")
    make_corrupt_docx(OUT / "report.docx", OUT / "corrupt.docx")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        make_pdf(OUT / "report.pdf", work)
        make_scanned_pdf(OUT / "scanned.pdf", work)
    make_encrypted_pdf(OUT / "report.pdf", OUT / "encrypted.pdf")
    (OUT / "news_gbk.html").write_bytes(NEWS_HTML.encode("gbk"))
    (OUT / "report_gbk.txt").write_bytes(REPORT_TEXT.encode("gbk"))
    (OUT / "report_utf16.txt").write_bytes(REPORT_TEXT.encode("utf-16"))  # with BOM
    (OUT / "report_big5.txt").write_bytes(BIG5_TEXT.encode("big5"))
    (OUT / "empty.txt").write_bytes(b"")
    for path in sorted(OUT.iterdir()):
        print(f"{path.stat().st_size:>8}  {path.relative_to(OUT.parents[2])}")


if __name__ == "__main__":
    main()
