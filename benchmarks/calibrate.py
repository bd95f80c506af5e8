"""Measure retrieval on every question set in one process, and re-derive the calibrated constants.

    python -m benchmarks.calibrate measure [--ext DIR ...] [--set KEY=VALUE ...] [--shared DIR]
    python -m benchmarks.calibrate calibrate [--ext DIR ...] [--near-misses]

Run from the project folder. Report sets (the shared dev set, SHARED/eval/dev_questions.jsonl,
and tests/data/*_questions.jsonl) run against the project's index (PUDONG_QA_INDEX, else ./index);
each external set is a folder prepared and built by SHARED/eval/external/external_bench.py
(DIR/corpus, DIR/index, DIR/gold.jsonl). External sets are split by article: even article
numbers are the *fit* half, odd ones the *check* half. ``calibrate`` fits only on the fit halves
(plus the dev set) and prints the check halves with the fitted values, so every calibrated
number can be re-derived and checked on questions it was not fitted on.

Question vectors are cached beside each set (``DIR/qvec-<hash>.npy``), so after the first run
a measurement costs only the search itself.

Calibration of the confidence (``calibrate``): unanswerable questions are scarce, so
negatives are made the general way: every set's questions asked against *another* corpus
(external questions against the report, report questions against an external corpus) are
unanswerable there, as are the report's own unanswerable questions. Positives are answerable
questions whose first result holds the evidence. The confidence threshold is the one that
keeps false refusal on the fit data ≤ the target while refusing as many negatives as possible.
With ``--near-misses`` every external question is also asked of its own corpus with each passage
holding one of its answers left out: a near miss (the article about the thing asked, without the
fact), the kind of unanswerable question the report gets, counted as a negative too.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from pudong_qa.embedding import load_model
from pudong_qa.evaluation import Outcome, evidence_outcome, load_eval_questions, squad_outcome, summarize
from pudong_qa.index import load_index
from pudong_qa.search.query import clean_query
from pudong_qa.search.ranking import SearchConfig
from pudong_qa.search.searcher import Searcher
from pudong_qa.settings import Settings

PROJECT = Path(__file__).resolve().parents[1]
QCACHE = Path(tempfile.gettempdir()) / "pudong-qa-qcache"
DATA = PROJECT / "tests" / "data"
REPORT_SETS = ["dev", "own", "heldout", "heldout2", "heldout3", "heldout4"]  # dev is SHARED's, the rest DATA's


def report_set_paths(shared: Path) -> dict[str, Path]:
    return {name: shared / "eval" / "dev_questions.jsonl" if name == "dev" else DATA / f"{name}_questions.jsonl"
            for name in REPORT_SETS}


class CachedModel:
    """The encoder, with question vectors cached on disk per question list."""

    def __init__(self, model, cache: Path, questions: list[str]) -> None:
        self.model = model
        key = hashlib.sha256("\n".join(questions).encode()).hexdigest()[:12]
        self.path = cache / f"qvec-{key}.npy"
        self.vecs: dict[str, np.ndarray] = {}
        if self.path.exists():
            self.vecs = dict(zip(questions, np.load(self.path), strict=True))

    def encode_queries(self, texts, batch_size=64):
        missing = [t for t in dict.fromkeys(texts) if t not in self.vecs]
        if missing:
            self.vecs.update(zip(missing, self.model.encode_queries(missing, batch_size=batch_size)))
        return np.stack([self.vecs[t] for t in texts])


def clean(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def report_rows(path: Path) -> list[dict]:
    return [{"question": q["question"], "evidence": q["evidence"], "doc": None, "split": "all",
             "type": q.get("type")} for q in load_eval_questions(path)]


def external_rows(folder: Path) -> list[dict]:
    rows = []
    for line in (folder / "gold.jsonl").read_text(encoding="utf-8").splitlines():
        g = json.loads(line)
        n = int(re.sub(r"\D", "", g["doc"]) or 0)
        rows.append({"question": g["question"], "evidence": g["answers"], "doc": g["doc"],
                     "split": "fit" if n % 2 == 0 else "check"})
    return rows


def run(searcher: Searcher, model, cache: Path, rows: list[dict]):
    questions = [r["question"] for r in rows]
    cleaned = [clean_query(q) for q in questions]
    searcher.model = CachedModel(model, cache, cleaned)
    out = searcher.search_many(questions, top_k=10)
    if not searcher.model.path.exists():
        np.save(searcher.model.path, np.stack([searcher.model.vecs[c] for c in cleaned]))
    return out


def outcome(row: dict, resp) -> Outcome:
    """A report row (evidence strings) or an external one (its article and answer strings), as
    ``pudong_qa.evaluation`` counts it."""
    if row["doc"] is None:
        return evidence_outcome(row["evidence"], resp)
    return squad_outcome(row["doc"], [clean(e) for e in row["evidence"]], resp)


def metrics(rows: list[dict], resps) -> dict:
    m = summarize([outcome(r, s) for r, s in zip(rows, resps)])
    keys = ["hit@1", "hit@3", "sentence@1", "false_refusal", "refusal"] + (["doc@1"] if "doc@1" in m else [])
    return {"n": len(rows), **{k: (round(m[k], 3) if isinstance(m[k], float) else m[k]) for k in keys}}


def load_all(settings: Settings, shared: Path, ext: list[Path], sets: list[str]):
    """The model, the indexes (the report's and each external set's) and the question rows of ``sets``."""
    model = load_model(settings.model, settings.cache_dir, settings.backend)
    corpora = {"report": (load_index(settings.index), settings.index)}
    for d in ext:
        corpora[d.name] = (load_index(d / "index"), d)
    rowsets = {k: report_rows(v) for k, v in report_set_paths(shared).items() if k in sets}
    for d in ext:
        if d.name in sets or not sets:
            rowsets[d.name] = external_rows(d)
    return model, corpora, rowsets


def measure(cfg: SearchConfig, model, corpora, rowsets, misses: int = 0) -> dict:
    table = {}
    for name, rows in rowsets.items():
        corpus = "report" if rows[0]["doc"] is None else name
        index, cache = corpora[corpus]
        searcher = Searcher(index, model, cfg)
        resps = run(searcher, model, cache if corpus != "report" else QCACHE, rows)
        splits = sorted({r["split"] for r in rows})
        for sp in splits:
            sel = [(r, s) for r, s in zip(rows, resps) if r["split"] == sp]
            key = name if sp == "all" else f"{name}/{sp}"
            table[key] = metrics([r for r, _ in sel], [s for _, s in sel])
            shown = 0
            for r, s in sel if misses else ():
                if bool(r["evidence"]) != s.answered:
                    print(f"  [{key}] {'refused' if r['evidence'] else 'answered'} {r['question']} "
                          f"conf {s.confidence:.2f} | {s.results[0].answer[:80] if s.results else ''!r}",
                          file=sys.stderr)
            for r, s in sel:
                if shown >= misses:
                    break
                got = outcome(r, s)
                if got.answerable and not got.sentence:
                    shown += 1
                    first = s.results[0] if s.results else None
                    print(f"  [{key}] {r['question']} | gold {r['evidence'][:2]} | rank {got.rank} | "
                          f"ans {first.answer[:100] if first else ''!r}", file=sys.stderr)
    return table


NEGATIVES_PER_SET = 150  # cross-corpus questions per (set, corpus) pair used as unanswerable
MAX_FALSE_REFUSAL = 0.02  # on every fit set's answerable questions (the target;
# a set of fewer than 50 questions may miss one)
GRID = {"coverage_share": [0.3, 0.4, 0.5, 0.6, 0.7],
        "cosine_floor": [0.76, 0.78, 0.80, 0.82, 0.84, 0.86],
        "cosine_span": [0.06, 0.08, 0.10, 0.12, 0.15]}


def answer_passages(index, rows: list[dict]) -> dict[str, set[int]]:
    """Per external question, every passage of the corpus holding one of its gold answers."""
    texts = [clean(p.text) for p in index.passages]
    return {r["question"]: {i for i, t in enumerate(texts) if any(clean(e) in t for e in r["evidence"])}
            for r in rows}


def features(cfg: SearchConfig, model, corpora, rows: list[dict], corpus: str,
             without: dict[str, set[int]] | None = None) -> list[dict]:
    """(coverage, best-sentence cosine, capped) of the first result of every question, via the
    real search (the confidence function is wrapped to record its inputs). ``without`` leaves
    out, per question, the passages given (its answers: a near miss, unanswerable in its own corpus).

    This wraps names of ``pudong_qa.search.searcher`` while it runs: ``confidence`` (called with the
    signature of ``answer.confidence``), ``candidate_stage`` and ``Searcher.search_vector`` (whose
    first argument is the question)."""
    import pudong_qa.search.searcher as search_mod
    from pudong_qa.search.answer import evidence

    rec: list[dict] = []
    real = search_mod.confidence
    real_candidates, real_search = search_mod.candidate_stage, search_mod.Searcher.search_vector
    asked: list[str] = []

    def search_vector(self, question, *args, **kwargs):
        asked[:] = [question]
        return real_search(self, question, *args, **kwargs)

    def candidates(store, lexical, qvec, n):
        c = real_candidates(store, lexical, qvec, n)
        gone = without.get(asked[0], set()) if asked else set()
        keep = [k for k, i in enumerate(c.ids) if int(i) not in gone]
        if len(keep) == len(c.ids):
            return c
        parts = [c.sentences(k) for k in keep]
        bounds = np.concatenate([[0], np.cumsum([len(x) for x in parts])]).astype(np.int64)
        return type(c)(c.ids[keep], c.dense[keep], np.concatenate(parts), bounds)

    def spy(q, answer, top_text, best_sentence, dense, sentence_cos, idf, c, *rest):
        cov, capped = evidence(q, answer, top_text, idf, c, *rest)
        rec.append({"question": q.text, "coverage": cov, "cos": best_sentence, "capped": capped,
                    "chinese": q.chinese,
                    "score": real(q, answer, top_text, best_sentence, dense, sentence_cos, idf, c, *rest)})
        return rec[-1]["score"]

    search_mod.confidence = spy
    if without:
        search_mod.candidate_stage, search_mod.Searcher.search_vector = candidates, search_vector
    try:
        index, cache = corpora[corpus]
        resps = run(Searcher(index, model, cfg), model, cache if corpus != "report" else QCACHE, rows)
    finally:
        search_mod.confidence = real
        search_mod.candidate_stage, search_mod.Searcher.search_vector = real_candidates, real_search
    by_q = {r["question"]: r for r in rec}
    return [by_q.get(s.question, {"chinese": True, "coverage": 0.0, "cos": 0.0, "capped": True, "score": 0.0})
            for s in resps]


def feature_groups(cfg: SearchConfig, model, corpora, rowsets,
                   near_misses: bool) -> dict[str, tuple[str, list[dict]]]:
    """The calibration's data: per set and half, the features of its positives (answerable
    questions) and of its negatives (unanswerable ones, questions asked of another corpus and,
    with ``near_misses``, questions asked without the passages holding their answers)."""
    groups: dict[str, tuple[str, list[dict]]] = {}  # name -> (kind, features)
    for name, rows in rowsets.items():
        home = "report" if rows[0]["doc"] is None else name
        for split in ("fit", "check"):
            sel = [r for r in rows if r["split"] in (split, "all")]
            if home == "report" and (name != "dev") != (split == "check"):
                continue  # the dev set is fit data, the other report sets are checks
            if not sel:
                continue
            f = features(cfg, model, corpora, sel, home)
            groups[f"{name}/{split}:pos"] = ("pos", [x for x, r in zip(f, sel) if r["evidence"] and x["chinese"]])
            groups[f"{name}/{split}:neg"] = ("neg", [x for x, r in zip(f, sel) if not r["evidence"] and x["chinese"]])
            if home != "report" and near_misses:  # the same questions with their answers left out
                near = features(cfg, model, corpora, sel, home, answer_passages(corpora[home][0], sel))
                groups[f"{name}/{split}~near:neg"] = ("neg", [x for x in near if x["chinese"]])
            for other in corpora:
                if other != home:
                    sub = sel[:NEGATIVES_PER_SET]
                    neg = [x for x in features(cfg, model, corpora, sub, other) if x["chinese"]]
                    groups[f"{name}/{split}@{other}:neg"] = ("neg", neg)
    return {k: v for k, v in groups.items() if v[1]}


def calibrate(cfg: SearchConfig, model, corpora, rowsets, near_misses: bool = False) -> int:
    """Grid-search the confidence's coverage share, cosine floor and span (threshold fixed at
    ``min_confidence``) on the fit data; print the chosen values and the check-half figures."""
    from pudong_qa.search.answer import combine

    groups = feature_groups(cfg, model, corpora, rowsets, near_misses)

    def rates(c: SearchConfig, fit: bool) -> dict[str, float]:
        out = {}
        for k, (kind, xs) in groups.items():
            if ("/check" in k) == fit:
                continue
            ok = [combine(x["coverage"], x["cos"], x["capped"], c) >= c.min_confidence for x in xs]
            out[k] = sum(ok) / len(ok) if kind == "pos" else 1 - sum(ok) / len(ok)
        return out

    best = None
    for values in itertools.product(*GRID.values()):
        c = dataclasses.replace(cfg, **dict(zip(GRID, values)))
        r = rates(c, fit=True)
        if any(1 - v > max(MAX_FALSE_REFUSAL, 1.0 / len(groups[k][1])) + 1e-9
               for k, v in r.items() if k.endswith(":pos")):  # a small set may miss one question
            continue
        neg = [v for k, v in r.items() if k.endswith(":neg")]
        key = (sum(neg) / len(neg), -abs(values[0] - 0.5))
        if best is None or key > best[0]:
            best = (key, c, r)
    if best is None:
        print("no setting keeps false refusal within the target on every fit set; current:", file=sys.stderr)
        for k, v in rates(cfg, True).items():
            capped = sum(x["capped"] for x in groups[k][1]) / len(groups[k][1])
            print(f"  {k:40s} {v:.3f}  (n={len(groups[k][1])}, capped {capped:.3f})", file=sys.stderr)
        return 1
    _, c, r = best
    print(json.dumps({k: getattr(c, k) for k in GRID} | {"min_confidence": c.min_confidence}))
    print("fit (positives: answered share; negatives: refused share)")
    for k, v in r.items():
        print(f"  {k:40s} {v:.3f}  (n={len(groups[k][1])})")
    print("check")
    for k, v in rates(c, fit=False).items():
        print(f"  {k:40s} {v:.3f}  (n={len(groups[k][1])})")
    for fit in (True, False):
        now = {k: round(v, 3) for k, v in rates(cfg, fit).items()}
        print(f"current SearchConfig, {'fit' if fit else 'check'}:", json.dumps(now))
    return 0


def parse_overrides(items: list[str]) -> dict:
    out = {}
    fields = {f.name: f.type for f in dataclasses.fields(SearchConfig)}
    for it in items:
        k, v = it.split("=", 1)
        if k not in fields:
            sys.exit(f"unknown SearchConfig field {k}")
        kind = type(getattr(SearchConfig(), k))
        if kind is bool and v.lower() not in ("true", "false", "1", "0"):
            sys.exit(f"{k} is true or false, not {v!r}")
        out[k] = v.lower() in ("true", "1") if kind is bool else kind(v)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.calibrate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["measure", "calibrate"])
    ap.add_argument("--ext", action="append", default=[], type=Path,
                    help="a folder made by SHARED/eval/external/external_bench.py "
                         "(DIR/corpus, DIR/index, DIR/gold.jsonl)")
    ap.add_argument("--only", action="append", default=[], help="set names to run (default all)")
    ap.add_argument("--set", action="append", default=[], help="SearchConfig override KEY=VALUE")
    ap.add_argument("--fit-only", action="store_true", help="external sets: only the fit half")
    ap.add_argument("--near-misses", action="store_true",
                    help="calibrate: also count external questions asked without their answers as negatives")
    ap.add_argument("--misses", type=int, default=0, help="print this many sentence misses per set")
    ap.add_argument("--shared", type=Path, default=PROJECT.parent / "shared",
                    help="the shared folder (its eval/dev_questions.jsonl is the dev set) [default: ../shared]")
    args = ap.parse_args(argv)
    settings = Settings.from_env()
    QCACHE.mkdir(exist_ok=True)
    sets = args.only or REPORT_SETS + [d.name for d in args.ext]
    model, corpora, rowsets = load_all(settings, args.shared, args.ext, sets)
    if args.fit_only:
        rowsets = {k: [r for r in v if r["split"] != "check"] for k, v in rowsets.items()}
    cfg = SearchConfig(**parse_overrides(args.set))
    if args.command == "measure":
        for k, v in measure(cfg, model, corpora, rowsets, args.misses).items():
            print(json.dumps({"set": k, **v}, ensure_ascii=False))
        return 0
    return calibrate(cfg, model, corpora, rowsets, args.near_misses)


if __name__ == "__main__":
    sys.exit(main())
