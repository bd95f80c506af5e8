"""Progress of long work as data: a callback receives ``Step(stage, done, total)`` with a named
stage, and each door draws it its own way (the CLI a line on stderr, the page a progress bar,
the API a job's state). Nothing reads progress back out of log text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# The stages of a build, in order; ``ocr`` appears only when scanned pages are read.
STAGES = ("read", "ocr", "chunk", "embed", "tokenize", "write", "swap")


@dataclass(frozen=True)
class Step:
    stage: str  # one of STAGES
    done: int = 0  # units of this stage finished (files, pages, texts)
    total: int = 0  # units in all; 0 when not known

    @property
    def fraction(self) -> float:
        """How far the whole build is, 0–1: finished stages, plus this one's share."""
        i = STAGES.index(self.stage) if self.stage in STAGES else 0
        part = self.done / self.total if self.total else 0.0
        return min(1.0, (i + part) / len(STAGES))


Progress = Callable[[Step], None]


def ignore(step: Step) -> None:
    """The callback for work nobody watches."""
