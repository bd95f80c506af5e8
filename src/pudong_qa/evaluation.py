"""Retrieval metrics over a question file with evidence (the dev-set format).

Same definitions as ``shared/eval/evaluate.py`` so users can measure the system on their
own documents: hit@k and sentence@1 count a hit when any evidence string appears in a
result (after NFKC and whitespace folding); questions with no evidence should be refused.
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


def score(questions: list[dict], responses: list[SearchResponse], top_k: int = 10) -> EvalReport:
    n_ans = n_un = hit1 = hit3 = sent1 = refused_ok = false_refusal = 0
    mrr = 0.0
    report = EvalReport({})
    for q, resp in zip(questions, responses):
        results = resp.results[:top_k]
        if not q["evidence"]:
            n_un += 1
            refused_ok += not resp.answered
            if resp.answered:
                report.accepted_wrongly.append(q["question"])
            continue
        n_ans += 1
        if not resp.answered:
            false_refusal += 1
            report.refused_wrongly.append(q["question"])
        ev = [_norm(e) for e in q["evidence"]]
        rank = next((k for k, r in enumerate(results, 1)
                     if len(r.text) <= MAX_CHARS and any(e in _norm(r.text) for e in ev)), None)
        hit1 += rank == 1
        hit3 += rank is not None and rank <= 3
        mrr += 1 / rank if rank else 0.0
        sent1 += bool(results) and any(e in _norm(results[0].answer) for e in ev)
        if rank != 1:
            report.misses.append(Miss(q["id"], q["question"], rank, results[0].text[:60] if results else ""))
    d = max(n_ans, 1)
    report.metrics = {
        "questions": len(questions), "answerable": n_ans, "unanswerable": n_un,
        "hit@1": hit1 / d, "hit@3": hit3 / d, "mrr@10": mrr / d, "sentence@1": sent1 / d,
        "refusal": refused_ok / n_un if n_un else None, "false_refusal": false_refusal / d,
    }
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


def score_squad(questions: list[dict], responses: list[SearchResponse]) -> dict[str, float | int]:
    """doc@1, hit@k (the gold article's passage holds an answer string), sentence@1, false refusal:
    the definitions of shared/eval/external/external_bench.py."""
    n = len(questions)
    hits = {1: 0, 3: 0, 5: 0}
    doc1 = sent1 = refused = 0
    rr = 0.0
    for q, resp in zip(questions, responses):
        refused += not resp.answered
        ok = [Path(r.citation.source).stem == q["doc"] and any(a in _squash(r.text) for a in q["answers"])
              for r in resp.results]
        for k in hits:
            hits[k] += any(ok[:k])
        first = next((i for i, v in enumerate(ok[:10]) if v), None)
        rr += 0 if first is None else 1 / (first + 1)
        if resp.results:
            top = resp.results[0]
            same = Path(top.citation.source).stem == q["doc"]
            doc1 += same
            sent1 += same and any(a in _squash(top.answer) for a in q["answers"])
    d = max(n, 1)
    return {"questions": n, "doc@1": doc1 / d, "hit@1": hits[1] / d, "hit@3": hits[3] / d, "hit@5": hits[5] / d,
            "mrr@10": rr / d, "sentence@1": sent1 / d, "false_refusal": refused / d}


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
