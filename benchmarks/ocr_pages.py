"""Scanned-looking pages made on the spot: Chinese report text drawn with a CJK font onto A4 page images,
turned a little and sprinkled with noise, as a scanner or a phone would deliver them.

Shared by ``benchmarks/ocr.py`` and ``tests/test_ocr.py``: nothing binary is committed, and the text
drawn is known exactly, so what OCR reads back can be scored character by character. The report
below is made up for this purpose (a fictional district's environment work); it is not from any
evaluation set.
"""

from __future__ import annotations

import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

A4_MM = (210, 297)
HEADER = "清溪区生态环境工作报告"
NO_LINE_START = "，。、；：！？）》”"  # punctuation a typesetter never puts first on a line: it hangs in the margin

# (kind, text) blocks of a made-up report: "title", "heading" or "para".
REPORT: list[tuple[str, str]] = [
    ("title", "清溪区二〇二五年生态环境工作报告"),
    ("heading", "一、总体情况"),
    ("para", "过去一年，全区空气质量优良天数达到三百一十二天，比上年增加十四天，细颗粒物年均浓度降至每立方米"
             "二十九微克。全区共完成大气污染治理项目八十六个，淘汰老旧柴油货车一千二百辆。"),
    ("para", "水环境方面，清溪河干流水质稳定保持在三类，十二条支流全部消除劣五类水体。新建污水管网"
             "四十七公里，改造雨污混接点六百三十处，城镇污水处理率提高到百分之九十六点五。"),
    ("para", "土壤和固体废物管理持续加强，受污染耕地安全利用率达到百分之九十三，建筑垃圾资源化利用"
             "项目年处理能力达到八十万吨，生活垃圾回收利用率提高到百分之四十一。"),
    ("heading", "二、重点工作"),
    ("heading", "（一）推进绿色低碳转型"),
    ("para", "全区新增屋顶光伏装机容量二万三千千瓦，公共机构新建建筑全部执行绿色建筑二星级以上标准。"
             "公交车辆全部更换为新能源车辆，新增公共充电桩一千八百个，覆盖所有街道和镇。"),
    ("para", "工业园区开展节能诊断服务，为一百零五家企业提出改造建议，全年节约标准煤三点二万吨。"
             "区财政安排专项资金五千万元，支持企业实施清洁生产审核和用能设备更新。"),
    ("heading", "（二）加强生态保护修复"),
    ("para", "沿清溪河两岸建成滨水绿道二十一公里，新增口袋公园三十四个，城市绿化覆盖率达到百分之"
             "四十二点三。湿地公园内记录到的鸟类增加到一百六十七种，其中国家二级保护鸟类九种。"),
    ("para", "在北部山区实施森林抚育一点五万亩，补植乡土树种十二万株。设立河道生态缓冲带，要求农田"
             "与河岸之间保留不少于500公尺的植被隔离区，减少化肥和农药随雨水进入河道。"),
    ("heading", "（三）提升监管执法效能"),
    ("para", "全区布设空气质量微型监测站二百二十个，重点排污单位全部安装在线监测设备并与区平台联网。"
             "全年开展执法检查四千六百余次，办结环境违法案件二百一十三件，罚款金额一千九百万元。"),
    ("para", "建立环境信访快速处置机制，群众投诉平均办理时间由七天缩短到三天，满意率达到百分之九十五。"
             "对噪声扰民问题实行夜间巡查，重点整治建筑工地夜间施工和餐饮油烟排放。"),
    ("heading", "三、存在的问题"),
    ("para", "一是夏季臭氧污染问题仍然突出，六月至八月臭氧超标天数占全年超标天数的七成以上。二是部分"
             "老旧小区雨污分流改造进度偏慢，汛期仍有溢流现象。三是基层执法人员数量不足，专业能力有待提高。"),
    ("heading", "四、下一步工作安排"),
    ("para", "二〇二六年，全区将力争空气质量优良天数达到三百二十天，细颗粒物年均浓度控制在每立方米二十七"
             "微克以内。计划完成雨污分流改造小区八十个，新建污水管网三十公里。"),
    ("para", "同时，区里将出台碳排放统计核算办法，建立重点企业碳排放台账，推动五十家企业开展碳足迹评价，"
             "并在三个街道试点建设近零碳社区，探索居民绿色出行积分奖励制度。"),
    ("para", "联系人：区生态环境局综合科，联系电话：021-58761234，地址：清溪区滨河路188号。"),
]


@dataclass
class Page:
    """One rendered page: the image and, for checking, the text drawn on it (body only, no header/folio)."""

    number: int
    image: object  # PIL.Image.Image
    blocks: list[tuple[str, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(text for _, text in self.blocks)


def find_font() -> Path | None:
    """A Simplified Chinese CJK font on this machine (Noto Sans/Serif CJK from fonts-noto-cjk), or None."""
    try:
        out = subprocess.run(["fc-list", ":lang=zh-cn", "file"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted({line.split(":")[0].strip() for line in out.splitlines() if line.strip()})
    preferred = [f for f in files if "NotoSansCJK-Regular" in f] + [f for f in files if "CJK" in f] + files
    return Path(preferred[0]) if preferred else None


def _wrap(draw, text: str, font, width: int, indent: int) -> list[str]:
    lines, line, room = [], "", width - indent
    for ch in text:
        if draw.textlength(line + ch, font=font) > room and line and ch not in NO_LINE_START:
            lines.append(line)
            line, room = "", width
        line += ch
    return [*lines, line] if line else lines


def render_report(font_path: Path, dpi: int = 200, columns: int = 1, seed: int = 1, tilt: float = 0.6,
                  noise: int = 18, blocks: list[tuple[str, str]] | None = None) -> list[Page]:
    """The report drawn onto A4 pages (a running header and a folio on each), slightly turned and noisy."""
    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(seed)
    w, h = (round(mm / 25.4 * dpi) for mm in A4_MM)
    px = dpi / 72  # pixels per point
    body, big, small = (ImageFont.truetype(str(font_path), round(size * px)) for size in (12, 18, 9))
    margin, gutter = round(25 / 25.4 * dpi), round(8 / 25.4 * dpi)
    col_w = (w - 2 * margin - (columns - 1) * gutter) // columns
    line_h = round(12 * px * 1.6)
    pages: list[Page] = []
    state = {"col": 0, "y": 0, "top": 0}

    def new_page() -> tuple[Page, object]:
        image = Image.new("L", (w, h), 255)
        pages.append(Page(len(pages) + 1, image))
        state["col"], state["y"] = 0, margin + line_h
        state["top"] = state["y"]
        return pages[-1], ImageDraw.Draw(image)

    page, draw = new_page()
    for kind, text in blocks or REPORT:
        font = big if kind == "title" else body
        step = round(line_h * (1.6 if kind == "title" else 1.0))
        indent = 2 * round(12 * px) if kind == "para" else 0
        lines = _wrap(draw, text, font, w - 2 * margin if kind == "title" else col_w, indent)
        need = len(lines) * step + line_h // 2
        if state["y"] + need > h - margin - line_h:
            if state["col"] + 1 < columns and kind != "title":
                state["col"] += 1
                state["y"] = state["top"]
            else:
                page, draw = new_page()
        x0 = margin + state["col"] * (col_w + gutter)
        for i, line in enumerate(lines):
            x = (w - draw.textlength(line, font=font)) / 2 if kind == "title" else x0 + (indent if i == 0 else 0)
            draw.text((x, state["y"]), line, font=font, fill=0)
            state["y"] += step
        state["y"] += line_h // 2
        page.blocks.append((kind, text))
        if kind == "title":
            state["top"] = state["y"]
    for page in pages:
        draw = ImageDraw.Draw(page.image)
        draw.text(((w - draw.textlength(HEADER, font=small)) / 2, margin // 2), HEADER, font=small, fill=80)
        folio = f"- {page.number} -"
        draw.text(((w - draw.textlength(folio, font=small)) / 2, h - margin // 2), folio, font=small, fill=80)
        page.image = _scanned(page.image, rng, tilt, noise)
    return pages


def _scanned(image, rng: random.Random, tilt: float, noise: int):
    """A small turn and grey speckle, as from a flatbed scanner."""
    import numpy as np
    from PIL import Image

    turned = image.rotate(rng.uniform(-tilt, tilt), resample=Image.BICUBIC, fillcolor=255)
    pixels = np.asarray(turned, dtype=np.int16)
    noisy = pixels + np.random.default_rng(rng.randrange(2**32)).normal(0, noise, pixels.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "L")


def save_pdf(pages: list[Page], path: Path, dpi: int = 200) -> Path:
    """An image-only PDF (no text layer), one page per image, as a scanner writes it."""
    first, *rest = [p.image.convert("RGB") for p in pages]
    first.save(path, "PDF", resolution=float(dpi), save_all=True, append_images=rest)
    return path


def plain_text(blocks: list[tuple[str, str]] | None = None) -> str:
    """The report as a text document: the same words, one paragraph a line (the "text version")."""
    return "\n".join(text for _, text in blocks or REPORT) + "\n"
