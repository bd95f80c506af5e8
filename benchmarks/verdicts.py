"""What people see, per question file with evidence: the evaluation's figures and how the verdicts
fall (near misses shown as confident answers, answerable questions shown unsure, the unsure
band's precision) and how often the answer sentence (``Result.sentence``) holds the evidence.

    python -m benchmarks.verdicts FILE [FILE ...] [--json]

Uses the project's index (build it first). Figures in docs/retrieval.md ("Everyday words, what a
passage lacks, one answer sentence").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pudong_qa.evaluation import _norm, load_eval_questions, score
from pudong_qa.results import ANSWERED, UNSURE
from pudong_qa.service import open_searcher
from pudong_qa.settings import Settings

COUNTS = ("answerable", "near_misses", "near_miss_confident", "answerable_unsure", "near_miss_unsure",
          "evidence_in_sentence")


def verdict_counts(questions: list[dict], responses) -> dict[str, int]:
    """How the first results' verdicts fall on answerable questions and on near misses."""
    out = dict.fromkeys(COUNTS, 0)
    for q, resp in zip(questions, responses):
        if q["evidence"]:
            out["answerable"] += 1
            out["answerable_unsure"] += resp.verdict == UNSURE
            first = resp.results[0].sentence if resp.results else ""
            out["evidence_in_sentence"] += any(_norm(e) in _norm(first) for e in q["evidence"])
        else:
            out["near_misses"] += 1
            out["near_miss_confident"] += resp.verdict == ANSWERED
            out["near_miss_unsure"] += resp.verdict == UNSURE
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--json", action="store_true", help="one JSON line per file, then the totals")
    args = ap.parse_args()
    searcher = open_searcher(Settings.from_env(), log=lambda _: None)
    total: dict[str, float] = {}
    for path in args.files:
        questions = load_eval_questions(path)
        responses = searcher.search_many([q["question"] for q in questions], top_k=10)
        metrics = {k: v for k, v in score(questions, responses).metrics.items() if k != "mrr@10"}
        row = {"file": path.name, **metrics, **verdict_counts(questions, responses)}
        for k in ("hit@1", "hit@3", "sentence@1"):
            total[k] = total.get(k, 0) + row[k] * row["answerable"]
        total["refused"] = total.get("refused", 0) + (row["refusal"] or 0) * row["near_misses"]
        total["false_refused"] = total.get("false_refused", 0) + row["false_refusal"] * row["answerable"]
        for k in COUNTS:
            total[k] = total.get(k, 0) + row[k]
        print(json.dumps(row, ensure_ascii=False) if args.json else
              "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    n, m = total["answerable"], max(total["near_misses"], 1)
    unsure = total["answerable_unsure"] + total["near_miss_unsure"]
    summary = {"file": "all", "answerable": int(n), "near_misses": int(total["near_misses"]),
               **{k: round(total[k] / n, 3) for k in ("hit@1", "hit@3", "sentence@1")},
               "refusal": round(total["refused"] / m, 3), "false_refusal": round(total["false_refused"] / n, 3),
               **{k: int(total[k]) for k in COUNTS[2:]},
               "unsure_precision": round(total["answerable_unsure"] / unsure, 3) if unsure else None}
    print(json.dumps(summary, ensure_ascii=False) if args.json else
          "  ".join(f"{k}={v}" for k, v in summary.items()))


if __name__ == "__main__":
    main()
