"""How often the answer's own sentence (``Result.core``, the page's strong mark) holds the evidence,
against the whole ``answer`` (sentence@1's field), on question files with evidence.

    python -m benchmarks.answer_core FILE [FILE ...]

Uses the project's index (build it first). Figures in docs/retrieval.md ("Results and the answer
sentence").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pudong_qa.service import open_searcher
from pudong_qa.settings import Settings


def evidence_rates(searcher, questions: list[dict]) -> tuple[float, float]:
    """(share of answerable questions whose evidence is in the first answer, ... in its core)."""
    found = searcher.search_many([q["question"] for q in questions], top_k=1)
    in_answer = in_core = 0
    for q, resp in zip(questions, found):
        if not resp.results:
            continue
        r = resp.results[0]
        a, b = r.core or (r.answer_start, r.answer_end)
        core = r.text[a - r.citation.start:b - r.citation.start]
        in_answer += any(e in r.answer for e in q["evidence"])
        in_core += any(e in core for e in q["evidence"])
    return in_answer / len(questions), in_core / len(questions)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    args = ap.parse_args()
    searcher = open_searcher(Settings.from_env(), log=lambda _: None)
    total = answer = core = 0
    for path in args.files:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        questions = [q for q in rows if q.get("evidence")]
        a, c = evidence_rates(searcher, questions)
        print(f"{path.name}: {len(questions)} answerable, evidence in answer {a:.3f}, in core {c:.3f}")
        total, answer, core = total + len(questions), answer + a * len(questions), core + c * len(questions)
    print(f"all: {total} answerable, evidence in answer {answer / total:.3f}, in core {core / total:.3f}")


if __name__ == "__main__":
    main()
