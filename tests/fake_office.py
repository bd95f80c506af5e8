"""A stand-in for ``QAService`` that answers at once without the model, for the tests of the doors
(the API's limits and errors, Dify's request shapes, schemathesis, MCP over raw stdio): what is
tested there is the door, not retrieval. Run as a script it serves MCP on stdio over it."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from pudong_qa.asking import check_batch, question_problem, top_k_for
from pudong_qa.errors import CorpusError
from pudong_qa.recycle import RecycleBin
from pudong_qa.results import Citation, Result, SearchResponse
from pudong_qa.service import IndexStatus, Stored
from pudong_qa.settings import Settings

TITLE = "测试报告"


def response(question: str, top_k: int) -> SearchResponse:
    """An answered response of ``top_k`` results whose scores fall with rank; a question with
    不知道 in it is not answered."""
    results = [Result(rank=i + 1, score=1.0 / (i + 1), text=f"第{i + 1}段:{question[:20]}", answer=f"答案{i + 1}",
                      answer_start=10 * i, answer_end=10 * i + 3, passage_id=i,
                      citation=Citation("corpus/report.txt", TITLE, "一、总则", i + 1, 10 * i, 10 * i + 9))
               for i in range(top_k)]
    answered = "不知道" not in question
    return SearchResponse(question, question, answered, results, confidence=0.9 if answered else 0.1)


class FakeService:
    """Answers every question instantly (``delay`` seconds of sleep each, to stand for work)."""

    def __init__(self, settings: Settings, log=print, delay: float = 0.0) -> None:
        self.settings, self.delay = settings, delay
        self.rebuilding = False
        self.asked = 0
        self._lock = threading.Lock()
        self.recycle = RecycleBin.for_settings(settings)  # real, and empty: nothing is ever removed here

    def _answer(self, question: str, top_k: int) -> SearchResponse:
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            self.asked += 1
        return response(question, top_k)

    def ask(self, question: str, top_k: int | None = None, previous=None):
        return question, self._answer(question, top_k_for(self.settings, top_k))

    def ask_many(self, questions: list[str], top_k: int | None = None, on_progress=None):
        top_k = top_k_for(self.settings, top_k)
        problems = check_batch(questions, self.settings)
        out = []
        for q, p in zip(questions, problems):
            out.append(None if p else self._answer(q, top_k))
            if on_progress and not p:
                on_progress(1)
        return out

    def add_documents(self, paths: list[Path]) -> list[str]:
        names = [Path(p).name for p in paths]
        bad = [n for n in names if Path(n).suffix.lower() not in (".txt", ".md", ".docx", ".pdf", ".html")]
        if bad:
            raise CorpusError(f"{bad[0]}: unsupported file type")
        return [f"corpus/{n}" for n in names]

    def store_documents(self, paths: list[Path], replace: bool = False, who: str = "local") -> list[Stored]:
        return [Stored(Path(p).name, source, "added") for p, source in zip(paths, self.add_documents(paths))]

    def clashes(self, paths: list[Path]) -> list[tuple[str, str]]:
        return []

    def remove_document(self, source: str, who: str = "local") -> SimpleNamespace:
        if source != "corpus/report.txt":
            raise CorpusError(code="not_a_document", subject=source, corpus="corpus")
        return SimpleNamespace(id="fake")

    def restore_document(self, what: str, who: str = "local"):
        return self.recycle.restore(what, who)

    def rebuild(self, force: bool = False, log=None):
        return SimpleNamespace(rebuilt=True, documents=1, passages=3, embedded=0, seconds=0.01)

    def status(self) -> IndexStatus:
        docs = [{"source": "corpus/report.txt", "title": TITLE, "chars": 100, "passages": 3, "format": "txt"}]
        return IndexStatus(docs, 3, "fake", "?", [])


def fake_office(root: Path, host: str = "0.0.0.0", **settings):
    """An office over fake services (knowledge bases ``corpus`` and ``other``), sign-in required."""
    from office import add_people

    from pudong_qa.office.server import make_office

    (root / "corpus").mkdir(parents=True, exist_ok=True)
    (root / "other").mkdir(exist_ok=True)
    s = Settings(root=root, host=host, **settings)
    creds = add_people(s)
    served = make_office(s, kb_specs=[f"corpus={root / 'corpus'}", f"other={root / 'other'}"], log=lambda _: None,
                         service_factory=FakeService)
    return served, creds


__all__ = ["FakeService", "fake_office", "question_problem", "response"]

if __name__ == "__main__":  # MCP on stdio over the fakes: python tests/fake_office.py ROOT
    from pudong_qa.office.knowledge import KnowledgeBases, knowledge_base_specs
    from pudong_qa.office.mcp import serve_stdio

    root = Path(sys.argv[1])
    (root / "corpus").mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env(root=root)
    serve_stdio(KnowledgeBases(knowledge_base_specs(settings), log=lambda _: None, service_factory=FakeService))
