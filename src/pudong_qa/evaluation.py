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
from .search import Searcher

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
