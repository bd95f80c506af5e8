"""Process-level speed measures, each kept for a gain re-measured on 2 cores with
``python -m benchmarks.speedups`` (figures in docs/benchmarks.md, "Process-level measures").

jieba's dictionary read from plain files, the third, lives with the tokenizer
(``tokenize._read_dictionary``). Pausing the garbage collector for a build was measured too and
dropped: 12.19 against 12.00 s of CPU on the report, 16.26 against 16.63 s on cmrc-trial's 256
articles (incremental builds, median of 5 and 3 runs)."""

from __future__ import annotations

import contextlib
import os
import sys


def release_freed_memory() -> None:
    """Hand memory freed by dropped build sessions back to the system. glibc keeps it in the arenas
    of the threads that made them, so a chat page that rebuilt once would hold it for good;
    ``malloc_trim`` returns it (resident 362 MB against 615 MB after encoding). Not glibc: nothing to do."""
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


def exit_now(code: int) -> None:
    """End a finished command without Python's teardown, which would free the model's tokenizer
    (a 250,000-piece trie, one allocation per node) and collect garbage: 0.55 s of CPU per command
    (4.10 against 4.65 s for ``ask``). Output is flushed first; a stream that cannot be written
    turns a success into status 1."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken pipe: nothing more can be written
            code = code or 1
    os._exit(code)
