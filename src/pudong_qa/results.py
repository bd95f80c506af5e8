"""What a search returns: results with their citations, and how a citation reads.

Plain dataclasses, so the CLI, the batch files and the page render the same values;
``format_citation`` is the one way a citation is written for people.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

NO_ANSWER = "报告中没有找到可靠的答案"  # shown whenever the first result is not a confident answer

# How sure a response is that its first result answers: a three-way signal for people.
ANSWERED = "answered"  # the first result states what was asked
UNSURE = "unsure"  # a close passage, but not confirmed to state it
NOT_FOUND = "not_found"  # the documents do not answer
VERDICTS = (ANSWERED, UNSURE, NOT_FOUND)


@dataclass(frozen=True)
class Citation:
    source: str  # the original file, relative to the project root
    title: str
    section: str  # heading path joined with " > "
    paragraph: int  # 1-based body paragraph
    start: int  # character offsets of the passage in the document's text
    end: int
    page: int | None = None  # PDFs only
    # scanned pages only (scans.py): the passage's line boxes on its page, as shares (0-1) of the page's
    # width and height, and the lowest OCR confidence of its lines; left out of ``to_dict`` when None
    boxes: tuple[tuple[float, float, float, float], ...] | None = None
    confidence: float | None = None

    @classmethod
    def from_dict(cls, d: dict) -> Citation:
        boxes = tuple(tuple(b) for b in d["boxes"]) if d.get("boxes") else None
        return cls(d["source"], d.get("title", ""), d.get("section", ""), d["paragraph"], d["start"], d["end"],
                   d.get("page"), boxes, d.get("confidence"))

    def to_dict(self) -> dict:
        """Every field, but the scanned-page ones only when set (other documents' output is unchanged)."""
        return {k: v for k, v in asdict(self).items() if v is not None or k not in ("boxes", "confidence")}


def format_citation(c: Citation, offsets: bool = True) -> str:
    """《title》 › heading path › 第N页 › 第N段, then the file and offsets (for checking)."""
    parts = [f"《{c.title}》"] if c.title else []
    parts += [c.section] if c.section else []
    parts += [f"第{c.page}页"] if c.page else []
    parts.append(f"第{c.paragraph}段")
    text = " › ".join(parts)
    return f"{text} · {c.source} [{c.start}–{c.end}]" if offsets else text


@dataclass(frozen=True)
class Result:
    rank: int
    score: float
    text: str
    answer: str
    answer_start: int  # absolute offsets of the answer in the source
    answer_end: int
    citation: Citation
    passage_id: int
    core: tuple[int, int] | None = None  # the answer's own sentence, which the page marks (None: all of it)
    missing: tuple[str, ...] = ()  # the question's content words the passage lacks, synonyms counted ("未包含")

    @property
    def sentence(self) -> str:
        """The answer's own sentence (``core``, a slice of ``text``): what every door shows as the answer."""
        if self.core is None:
            return self.answer
        return self.text[self.core[0] - self.citation.start : self.core[1] - self.citation.start]

    def to_dict(self) -> dict:
        return {
            "rank": self.rank,
            "score": round(self.score, 4),
            "text": self.text,
            "answer": self.answer,
            "sentence": self.sentence,
            "missing": list(self.missing),
            "citation": self.citation.to_dict(),
        }


@dataclass
class SearchResponse:
    question: str
    query: str  # what was actually searched, after normalisation
    answered: bool
    results: list[Result]
    confidence: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    verdict: str = ""  # one of VERDICTS, for people; without one given, answered or not_found
    expansions: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (word asked, other words also searched)

    def __post_init__(self) -> None:
        if not self.verdict:
            self.verdict = ANSWERED if self.answered else NOT_FOUND

    def to_dict(self) -> dict:
        """The evaluation contract, with the verdict (answered / unsure / not_found) and the other
        words searched for what the question names."""
        return {"question": self.question, "answered": self.answered, "verdict": self.verdict,
                "expansions": [{"word": w, "others": list(o)} for w, o in self.expansions],
                "results": [r.to_dict() for r in self.results]}
