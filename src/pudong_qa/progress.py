"""Progress of long work as data: a callback receives ``Step(stage, done, total)`` with a named
stage, and each door draws it its own way (the CLI a line on stderr, the page a progress bar,
the API a job's state). Nothing reads progress back out of log text."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

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


@dataclass
class Eta:
    """The time left in the current stage, from how long its units so far took (``None`` until
    one is done): what a person waiting on a scanned report wants to know."""

    clock: Callable[[], float] = time.monotonic
    stage: str = ""
    started: float = field(default=0.0)

    def __call__(self, step: Step) -> float | None:
        now = self.clock()
        if step.stage != self.stage:
            self.stage, self.started = step.stage, now
        if not step.done or not step.total:
            return None
        return (now - self.started) / step.done * (step.total - step.done)


def ignore(step: Step) -> None:
    """The callback for work nobody watches."""
