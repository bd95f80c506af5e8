"""Retrieval metrics over a question file with evidence (the dev-set format), or a SQuAD-format set.

Same definitions as ``shared/eval/evaluate.py`` so users can measure the system on their
own documents: hit@k and sentence@1 count a hit when any evidence string appears in a
result (after NFKC and whitespace folding); questions with no evidence should be refused.
Each question comes down to an ``Outcome`` and ``summarize`` counts them: the one place the
metrics are defined (the benchmarks and training scripts count with it too).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .errors import EvalFileError
from .results import SearchResponse
from .search.searcher import Searcher

MAX_CHARS = 300


def _norm(s: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))


def load_eval_questions(path: Path) -> list[dict]:
    rows = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"{path}: cannot read as UTF-8 ({exc})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise EvalFileError(f"{path}:{n}: not valid JSON") from None
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            raise EvalFileError(f"{path}:{n}: needs a 'question' string")
        row.setdefault("id", f"line{n}")
        row.setdefault("evidence", [])
        rows.append(row)
    return rows


@dataclass
class Miss:
    id: str
    question: str
    rank: int | None
    first: str


@dataclass
class EvalReport:
    metrics: dict[str, float | int | None]
    misses: list[Miss] = field(default_factory=list)
    refused_wrongly: list[str] = field(default_factory=list)
    accepted_wrongly: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """One question as the metrics count it."""

    answerable: bool
    answered: bool
    rank: int | None = None  # of the first result holding the answer; None: none does
    sentence: bool = False  # the first result's answer sentence(s) hold it
    document: bool | None = None  # the first result is from the gold document; None: there is no gold document


def summarize(outcomes: list[Outcome], ks: tuple[int, ...] = (1, 3)) -> dict[str, float | int | None]:
    """hit@k, mrr@10, sentence@1 and false refusal over the answerable questions (and doc@1 when they
    have a gold document), refusal over the unanswerable ones (None without any)."""
    ans = [o for o in outcomes if o.answerable]
    un = [o for o in outcomes if not o.answerable]
    d = max(len(ans), 1)
    out: dict[str, float | int | None] = {"questions": len(outcomes), "answerable": len(ans), "unanswerable": len(un)}
    if any(o.document is not None for o in ans):
        out["doc@1"] = sum(bool(o.document) for o in ans) / d
    out.update({f"hit@{k}": sum(o.rank is not None and o.rank <= k for o in ans) / d for k in ks})
    out["mrr@10"] = sum(1 / o.rank for o in ans if o.rank and o.rank <= 10) / d
    out["sentence@1"] = sum(o.sentence for o in ans) / d
    out["refusal"] = sum(not o.answered for o in un) / len(un) if un else None
    out["false_refusal"] = sum(not o.answered for o in ans) / d
    return out


def evidence_outcome(evidence: list[str], resp: SearchResponse, top_k: int = 10) -> Outcome:
    """A question with evidence strings (none: it should be refused) and its response: a result
    (of at most ``MAX_CHARS``) holds the answer when its text holds an evidence string."""
    if not evidence:
        return Outcome(False, resp.answered)
    results = resp.results[:top_k]
    ev = [_norm(e) for e in evidence]
    rank = next((k for k, r in enumerate(results, 1)
                 if len(r.text) <= MAX_CHARS and any(e in _norm(r.text) for e in ev)), None)
    return Outcome(True, resp.answered, rank, bool(results) and any(e in _norm(results[0].answer) for e in ev))


def score(questions: list[dict], responses: list[SearchResponse], top_k: int = 10) -> EvalReport:
    report = EvalReport({})
    outcomes = []
    for q, resp in zip(questions, responses):
        o = evidence_outcome(q["evidence"], resp, top_k)
        outcomes.append(o)
        if o.answerable != o.answered:
            (report.refused_wrongly if o.answerable else report.accepted_wrongly).append(q["question"])
        if o.answerable and o.rank != 1:
            first = resp.results[0].text[:60] if resp.results[:top_k] else ""
            report.misses.append(Miss(q["id"], q["question"], o.rank, first))
    report.metrics = summarize(outcomes)
    return report


def evaluate(searcher: Searcher, questions: list[dict], top_k: int = 10) -> EvalReport:
    responses = searcher.search_many([q["question"] for q in questions], top_k=top_k)
    return score(questions, responses, top_k)


# ---------------------------------------------------------------- SQuAD-format sets (many documents)


def _squash(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def is_squad(path: Path) -> bool:
    """A SQuAD-format JSON file ({"data": [{"title", "paragraphs": [{"context", "qas"}]}]})?"""
    if Path(path).suffix.lower() != ".json":
        return False
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("data"), list)


def write_squad_corpus(path: Path, out: Path) -> list[dict]:
    """One .txt per article (title, blank line, paragraphs separated by blank lines) under
    ``out/corpus``; returns the questions with their article and answer strings."""
    try:
        articles = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError) as exc:
        raise EvalFileError(f"{path}: not a readable SQuAD-format file ({exc})") from None
    (out / "corpus").mkdir(parents=True, exist_ok=True)
    questions = []
    for i, article in enumerate(articles):
        doc = f"doc{i:04d}"
        paragraphs = article.get("paragraphs", [])
        text = "\n\n".join(_squash(p.get("context", "")) for p in paragraphs)
        (out / "corpus" / f"{doc}.txt").write_text(f"{_squash(article.get('title') or doc)}\n\n{text}\n",
                                                   encoding="utf-8")
        for p in paragraphs:
            for qa in p.get("qas", []):
                answers = sorted({_squash(a["text"]) for a in qa.get("answers", []) if _squash(a.get("text", ""))})
                if _squash(qa.get("question", "")) and answers:
                    questions.append({"question": _squash(qa["question"]), "doc": doc, "answers": answers})
    if not questions:
        raise EvalFileError(f"{path}: no answerable questions")
    return questions


def squad_outcome(doc: str, answers: list[str], resp: SearchResponse) -> Outcome:
    """A question about article ``doc`` whose answer strings (whitespace squashed) are ``answers``
    (none: it should be refused): a result holds the answer when it is from ``doc`` and holds one."""
    if not answers:
        return Outcome(False, resp.answered)
    ok = [Path(r.citation.source).stem == doc and any(a in _squash(r.text) for a in answers)
          for r in resp.results[:10]]
    rank = next((i for i, v in enumerate(ok, 1) if v), None)
    same = bool(resp.results) and Path(resp.results[0].citation.source).stem == doc
    sentence = same and any(a in _squash(resp.results[0].answer) for a in answers)
    return Outcome(True, resp.answered, rank, sentence, same)


def score_squad(questions: list[dict], responses: list[SearchResponse]) -> dict[str, float | int]:
    """doc@1, hit@k (the gold article's passage holds an answer string), sentence@1, false refusal:
    the definitions of shared/eval/external/external_bench.py."""
    m = summarize([squad_outcome(q["doc"], q["answers"], r) for q, r in zip(questions, responses)], ks=(1, 3, 5))
    m.setdefault("doc@1", 0.0)  # no questions
    return {k: m[k] for k in ("questions", "doc@1", "hit@1", "hit@3", "hit@5", "mrr@10", "sentence@1",
                              "false_refusal")}


def evaluate_squad(path: Path, settings, top_k: int = 10, log=lambda _: None, progress: bool = False) -> dict:
    """Build a temporary index of a SQuAD-format set's articles, ask every question, score."""
    import dataclasses
    import tempfile
    import time

    from .indexing import build_index
    from .service import load_settings_index

    with tempfile.TemporaryDirectory(prefix="pudong-qa-eval-") as tmp:
        root = Path(tmp)
        questions = write_squad_corpus(path, root)
        local = dataclasses.replace(settings, root=root, corpus=root / "corpus", index=root / "index")
        t = time.perf_counter()
        report = build_index(local, log=log, progress=progress)
        build_s = time.perf_counter() - t
        searcher = Searcher(load_settings_index(local), _model(local, progress))
        t = time.perf_counter()
        responses = searcher.search_many([q["question"] for q in questions], top_k=top_k)
        ask_s = time.perf_counter() - t
    return {**score_squad(questions, responses), "documents": report.documents, "passages": report.passages,
            "build_s": round(build_s, 1), "ask_s": round(ask_s, 1)}


def _model(settings, progress: bool):
    from .embedding import load_model

    return load_model(settings.model, settings.cache_dir, settings.backend, progress=progress)
