"""Optical character recognition of page images, offline, with RapidOCR's PP-OCRv4 models.

``rapidocr-onnxruntime`` ships PaddleOCR's Chinese detection, direction and recognition models inside
its wheel and runs them with ONNX Runtime (see docs/ocr.md for the choice and the licences). The
engine loads once per process and per set of options, on first use, and is shared by threads.

The readers (``formats/scanned.py``) have the registry's fixed signature ``(path, source, max_bytes)``,
so how OCR runs for one build (options, the cache, a progress callback) is set for the calling
context with ``ocr_context(...)``: ``indexing/build.py`` does it around reading the corpus. Outside
one, OCR runs with the defaults and no cache.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import CorpusError, Problem
from ..progress import Progress
from .ocr_cache import OcrCache, OcrLine

if TYPE_CHECKING:
    import numpy as np

    from ..settings import Settings



@dataclass(frozen=True)
class OcrOptions:
    """How pages are recognised; every field is a ``PUDONG_QA_OCR*`` setting (settings.py)."""

    enabled: bool = True
    threads: int = 0  # ONNX Runtime threads per model; 0 = its own choice (every core)
    det_side: int = 0  # cap on the detection image's long side in pixels; 0 = the package's (the page, ≤ 2000)
    rec_batch: int = 6  # text lines recognised per model call (the package's default)
    direction: bool = False  # the direction model turning lines it takes for upside down (off: it misread 300 dpi)
    dpi: int = 200  # scanned PDF pages are rendered at this resolution

    def engine_key(self) -> tuple:
        return (self.threads, self.det_side, self.rec_batch)


@dataclass
class OcrContext:
    options: OcrOptions = field(default_factory=OcrOptions)
    cache: OcrCache | None = None
    progress: Progress | None = None  # hears Step("ocr", pages done, pages total) after each page
    calls: int = 0  # pages recognised (not taken from the cache) in this context, for tests and the log
    used: set[str] = field(default_factory=set)  # SHA-256 of the scanned files read (the cache keeps these)
    skipped: list[tuple[str, Problem]] = field(default_factory=list)  # (source, why) of pages not read


_CONTEXT: ContextVar[OcrContext | None] = ContextVar("pudong_qa_ocr", default=None)


def current() -> OcrContext:
    """The OCR context of this build (or a default one: OCR on, no cache)."""
    ctx = _CONTEXT.get()
    if ctx is None:
        ctx = OcrContext()
        _CONTEXT.set(ctx)
    return ctx


@contextlib.contextmanager
def ocr_context(options: OcrOptions | None = None, cache: OcrCache | None = None,
                progress: Progress | None = None) -> Iterator[OcrContext]:
    """Read documents within this block with these OCR options, cache and progress callback."""
    ctx = OcrContext(options or OcrOptions(), cache, progress)
    token = _CONTEXT.set(ctx)
    try:
        yield ctx
    finally:
        _CONTEXT.reset(token)


_ENGINES: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def _engine(options: OcrOptions):
    """The RapidOCR engine for these options, loaded once (its three ONNX sessions take ~1 s)."""
    with _LOCK:
        key = options.engine_key()
        if key not in _ENGINES:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:  # pragma: no cover - a dependency; only a broken install lacks it
                raise CorpusError(code="ocr_missing", reason=str(exc)) from None
            threads = options.threads if options.threads > 0 else -1
            # the package's own det_limit_type "min" never shrinks a page (its short side is over 736 px): only
            # its 2000 px cap on the whole image applies. det_side > 0 caps the detection image's long side.
            det = {"det_limit_side_len": options.det_side, "det_limit_type": "max"} if options.det_side > 0 else {}
            _ENGINES[key] = RapidOCR(rec_batch_num=options.rec_batch, intra_op_num_threads=threads,
                                     inter_op_num_threads=1 if threads > 0 else -1, **det)
        return _ENGINES[key]


def recognise(image: np.ndarray, options: OcrOptions | None = None) -> list[OcrLine]:
    """The text lines of one page image (RGB ``uint8`` array), each with its box and confidence."""
    options = options or current().options
    engine = _engine(options)
    found, _ = engine(image, use_cls=options.direction)
    lines = []
    for quad, text, score in found or []:
        xs, ys = [p[0] for p in quad], [p[1] for p in quad]
        box = (int(min(xs)), int(min(ys)), int(round(max(xs))), int(round(max(ys))))
        if str(text).strip():
            lines.append(OcrLine(str(text), box, float(score)))
    return lines


def options_from(settings: Settings) -> OcrOptions:
    """The OCR options of these settings (``PUDONG_QA_OCR``, ``_OCR_THREADS``, ``_OCR_DET_SIDE``,
    ``_OCR_DIRECTION``, ``_OCR_DPI``)."""
    return OcrOptions(enabled=settings.ocr, threads=settings.ocr_threads, det_side=settings.ocr_det_side,
                      direction=settings.ocr_direction, dpi=settings.ocr_dpi)


def options_record(options: OcrOptions) -> dict[str, Any]:
    """The options that change what is read (kept with cached pages: other options, other results)."""
    return {k: v for k, v in asdict(options).items() if k in ("det_side", "direction", "dpi")}
