"""OCR speed and accuracy on made-up scanned pages: the package's defaults and each lever, side by side.

    python -m benchmarks.ocr [--dpi 150,200,300] [--repeat 1] [--configs defaults,tuned,...] [--json]
    python -m benchmarks.ocr --add-report 20
    python -m benchmarks.ocr --stages --configs defaults,det-1280,det-960,tuned --repeat 3

Pages come from ``benchmarks/ocr_pages.py`` (the made-up report drawn with Noto Sans CJK on A4 at each
dpi, turned up to 0.6°, grey noise; plus one two-column page at 200 dpi). For each configuration every
page is recognised ``--repeat`` times after one warm-up page, and the table gives:

- wall seconds a page (median) and CPU seconds a page (user + system of the whole process, all threads:
  less sensitive to other work on a shared machine than the wall clock);
- accuracy: the difflib ratio of the page's text as the reader rebuilds it (``ocr_layout``) to the text
  drawn on it, in characters (1.0 = every character right and in order).

Configurations (``OcrOptions`` fields; "defaults" is rapidocr-onnxruntime 1.4.4's own config.yaml):
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import statistics
import sys
import time
from dataclasses import replace

import numpy as np

from benchmarks.ocr_pages import Page, find_font, render_report
from pudong_qa.formats.ocr import OcrOptions, recognise
from pudong_qa.formats.ocr_cache import OcrPage
from pudong_qa.formats.ocr_layout import build_document, ocr_page_lines, paragraphs

DEFAULTS = OcrOptions(det_side=0, rec_batch=6, threads=0, direction=True)  # the package's own config.yaml
CONFIGS = {
    "defaults": DEFAULTS,
    "no-direction": replace(DEFAULTS, direction=False),
    "det-1280": replace(DEFAULTS, det_side=1280),
    "det-960": replace(DEFAULTS, det_side=960),
    "rec-batch-1": replace(DEFAULTS, rec_batch=1),
    "rec-batch-16": replace(DEFAULTS, rec_batch=16),
    "threads-1": replace(DEFAULTS, threads=1),
    "threads-2": replace(DEFAULTS, threads=2),
    "tuned": OcrOptions(),  # as shipped (settings.py): the package's defaults without the direction model
}
__doc__ += "".join(f"\n    {name:14} {options}" for name, options in CONFIGS.items()) + "\n"


def accuracy(page: Page, lines, size: tuple[int, int]) -> float:
    ocr = OcrPage(page.number, size[0], size[1], lines)
    text = build_document("page.png", paragraphs(ocr_page_lines([ocr])[page.number]), []).text
    want, got = "".join(page.text.split()), "".join(text.split())
    return difflib.SequenceMatcher(None, want, got, autojunk=False).ratio()


def measure(options: OcrOptions, pages: list[tuple[str, Page]], repeat: int) -> dict:
    images = [(label, page, np.asarray(page.image.convert("RGB"))) for label, page in pages]
    recognise(images[0][2], options)  # warm-up: sessions created, first-run allocations made
    walls, cpus, scores = [], [], {}
    for label, page, image in images:
        for _ in range(repeat):
            c0, t0 = time.process_time(), time.perf_counter()
            lines = recognise(image, options)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        scores[label] = accuracy(page, lines, (image.shape[1], image.shape[0]))
    return {"wall_s_page": round(statistics.median(walls), 2), "cpu_s_page": round(statistics.median(cpus), 2),
            "accuracy": {k: round(v, 4) for k, v in scores.items()},
            "accuracy_mean": round(statistics.mean(scores.values()), 4)}


def add_report(font, pages: int, options: OcrOptions) -> dict:
    """Seconds to add a ``pages``-page scanned report to a running service: the upload check (which reads
    it, filling the OCR cache) and the rebuild that swaps it in (which finds every page in the cache)."""
    import shutil
    import tempfile
    from pathlib import Path

    from benchmarks.ocr_pages import REPORT, plain_text, save_pdf
    from pudong_qa.formats.ocr_cache import cache_folder
    from pudong_qa.service import QAService
    from pudong_qa.settings import Settings

    with tempfile.TemporaryDirectory(prefix="ocr-bench-") as tmp:
        root = Path(tmp)
        (root / "corpus").mkdir()
        (root / "corpus" / "notes.txt").write_text(plain_text(), encoding="utf-8")
        settings = Settings(root=root, ocr_det_side=options.det_side, ocr_threads=options.threads,
                            ocr_direction=options.direction, max_file_mb=64)  # noisy scans: ~0.9 MB a page
        service = QAService(settings, log=lambda _: None)
        drawn = render_report(font, dpi=200, blocks=REPORT * (pages // 2 + 1))[:pages]
        upload = save_pdf(drawn, root / f"scan-{pages}.pdf")
        size = upload.stat().st_size
        t0 = time.perf_counter()
        service.add_documents([upload])
        t1 = time.perf_counter()
        report = service.rebuild()
        t2 = time.perf_counter()
        shutil.rmtree(cache_folder(settings.cache_dir, settings.index), ignore_errors=True)
    return {"pages": pages, "mb": round(size / 2**20, 1), "upload_check_s": round(t1 - t0, 1),
            "rebuild_s": round(t2 - t1, 1), "total_s": round(t2 - t0, 1), "passages": report.passages}


def stages(font, names: list[str], runs: int) -> list[dict]:
    """The package's own per-stage timings (detection, direction, recognition) of one 200 dpi page,
    the configurations taking turns run after run, so a change in the machine's load hits them alike."""
    from pudong_qa.formats.ocr import _engine

    image = np.asarray(render_report(font, dpi=200)[0].image.convert("RGB"))
    engines = {name: (_engine(CONFIGS[name]), CONFIGS[name].direction) for name in names}
    for engine, direction in engines.values():
        engine(image, use_cls=direction)  # warm-up
    seen: dict[str, list] = {name: [] for name in names}
    for _ in range(runs):
        for name, (engine, direction) in engines.items():
            found, elapse = engine(image, use_cls=direction)
            seen[name].append((*elapse, len(found or [])))
    return [{"config": name, "det_s": round(statistics.median(r[0] for r in rows), 2),
             "cls_s": round(statistics.median(r[1] for r in rows), 2),
             "rec_s": round(statistics.median(r[2] for r in rows), 2), "lines": rows[0][3]}
            for name, rows in seen.items()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dpi", default="150,200,300", help="resolutions of the one-column pages")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs a page")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="which configurations, in order")
    parser.add_argument("--json", action="store_true", help="one JSON line a configuration instead of a table")
    parser.add_argument("--add-report", type=int, metavar="PAGES",
                        help="instead: time adding a scanned report of PAGES pages to a running service (tuned)")
    parser.add_argument("--stages", action="store_true",
                        help="instead: each configuration's detection/direction/recognition seconds on one page")
    args = parser.parse_args(argv)
    font = find_font()
    if font is None:
        sys.exit("no CJK font: apt-get install fonts-noto-cjk")
    if args.stages:
        print(f"# load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
        for row in stages(font, args.configs.split(","), max(3, args.repeat)):
            print(json.dumps(row), flush=True)
        print(f"# load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end")
        return
    if args.add_report:
        print(json.dumps(add_report(font, args.add_report, CONFIGS["tuned"])), flush=True)
        print(f"# load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
        return
    pages = [(f"{dpi}dpi p1", render_report(font, dpi=int(dpi))[0]) for dpi in args.dpi.split(",")]
    pages.append(("200dpi 2-col", render_report(font, dpi=200, columns=2, seed=7)[0]))
    print(f"# {len(pages)} pages: {', '.join(label for label, _ in pages)}; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores", flush=True)
    if not args.json:
        print("| config | wall s/page | CPU s/page | accuracy (mean) | accuracy by page |")
        print("| --- | --- | --- | --- | --- |")
    for name in args.configs.split(","):
        result = measure(CONFIGS[name], pages, args.repeat)
        if args.json:
            print(json.dumps({"config": name, **result}, ensure_ascii=False), flush=True)
        else:
            by_page = ", ".join(f"{k} {v:.3f}" for k, v in result["accuracy"].items())
            print(f"| {name} | {result['wall_s_page']:.2f} | {result['cpu_s_page']:.2f} | "
                  f"{result['accuracy_mean']:.4f} | {by_page} |", flush=True)
    print(f"# load average at the end {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
