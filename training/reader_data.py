"""Build the reader's (question, candidate sentence) data from ../shared and the product's own retrieval.

Deterministic. Needs, for each external set, a folder made by external_bench.py prepare with an
index built and the questions asked by the frozen CLI (training/retrieve.sh does both), and the
report questions asked the same way. Writes to SCRATCH/data/ (default training/work):

  questions.jsonl  one line per question: set, split (train/val), question, answerable, gold
                   strings, gold doc, the system's `answered`, and the top-10 results, each with
                   its candidate sentences {s, e, text, prev, label} (label 1 answers, 0 does
                   not, null ambiguous: the answer string appears elsewhere than the gold spot)
  pairs_train.jsonl / pairs_val.jsonl  the selected pairs {q, title, text, prev, label, set, qi}

and training/splits.json (article indices + titles per external set; report sets by name).

  python training/reader_data.py [--keep 8] [--extra-hard 2]
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from reader_common import ROOT, SCRATCH  # noqa: E402

from pudong_qa.chunking import DEFAULT_MAX_CHARS, _cut_long, split_sentences  # noqa: E402
from pudong_qa.corpus import load_document  # noqa: E402

SHARED = ROOT.parent / "shared" / "eval" / "external"
EXTERNAL = {  # set name -> (SQuAD file, folder under SCRATCH/ext)
    "cmrc": (SHARED / "cmrc2018_trial.json", "cmrc-trial"),
    "drcd": (SHARED / "drcd_dev.json", "drcd-dev"),
    "squad2": (SHARED / "squad2zh_dev_even.json", "squad2-even"),
}
REPORT_DATA = ROOT / "tests" / "data"
REPORT_TRAIN = ["own", "heldout", "heldout2", "heldout3", "heldout4"]
REPORT_VAL = ["heldout5"]  # heldout6/7 and shared/eval/dev_questions.jsonl are never read
REPORT_ROOT = ROOT
SPLIT_SEED = 20240601
TRAIN_SHARE = 2 / 3


def clean(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


# --------------------------------------------------------------------------- splits

def make_splits(path: Path) -> dict:
    if path.exists():
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    out = {"seed": SPLIT_SEED, "train_share": round(TRAIN_SHARE, 4), "note":
           "external sets: articles (index in the SQuAD file's data list) split, not questions; "
           "retrieval always runs over the whole set's corpus", "external": {}}
    for name, (f, _) in EXTERNAL.items():
        with open(f, encoding="utf-8") as fh:
            data = json.load(fh)["data"]
        idx = list(range(len(data)))
        random.Random(f"{SPLIT_SEED}-{name}").shuffle(idx)
        n = round(len(idx) * TRAIN_SHARE)
        tr, va = sorted(idx[:n]), sorted(idx[n:])
        out["external"][name] = {"file": f.name, "articles": len(data),
                                 "train": tr, "val": va,
                                 "train_titles": [clean(data[i].get("title") or "") for i in tr],
                                 "val_titles": [clean(data[i].get("title") or "") for i in va]}
    out["report"] = {"train": REPORT_TRAIN, "val": REPORT_VAL}
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return out


# --------------------------------------------------------------------------- documents

class Docs:
    """Documents as the system reads them, with each paragraph's sentences (the system's splitter)."""

    def __init__(self, root: Path):
        self.root = root
        self.cache: dict[str, tuple] = {}

    def get(self, source: str):
        if source not in self.cache:
            doc = load_document(self.root / source, source)
            sents = []  # (start, end, paragraph number)
            for para in doc.paragraphs:
                for span in split_sentences(doc.text, para.start, para.end):
                    for s, e in _cut_long(doc.text, span, DEFAULT_MAX_CHARS):
                        sents.append((s, e, para.number))
            self.cache[source] = (doc, sents)
        return self.cache[source]

    def sentences(self, source: str, start: int, end: int) -> list[dict]:
        doc, sents = self.get(source)
        out = []
        for i, (s, e, para) in enumerate(sents):
            if s >= start and e <= end:
                prev = sents[i - 1] if i and sents[i - 1][2] == para else None
                out.append({"s": s, "e": e, "text": doc.text[s:e],
                            "prev": doc.text[prev[0]:prev[1]] if prev else ""})
        return out

    def sentence_at(self, source: str, s0: int, e0: int) -> list[dict]:
        """The sentences overlapping [s0, e0)."""
        doc, sents = self.get(source)
        return [x for x in self.sentences(source, 0, len(doc.text)) if x["s"] < e0 and s0 < x["e"]]


def candidates(docs: Docs, results: list[dict]) -> list[dict]:
    """Top results -> their passages' sentences (dedupe by (source, offsets) across passages)."""
    seen = set()
    out = []
    for r in results:
        c = r["citation"]
        doc, _ = docs.get(c["source"])
        assert doc.text[c["start"]:c["end"]] == r["text"], (c, r["text"][:40])
        sents = []
        for x in docs.sentences(c["source"], c["start"], c["end"]):
            key = (c["source"], x["s"], x["e"])
            x["new"] = key not in seen
            seen.add(key)
            sents.append(x)
        out.append({"rank": r["rank"], "source": c["source"], "doc": Path(c["source"]).stem,
                    "title": c.get("title") or doc.title, "start": c["start"], "end": c["end"],
                    "text": r["text"], "answer": r.get("answer", ""), "sents": sents})
    return out


# --------------------------------------------------------------------------- external sets

def external_items(name: str, split: dict) -> list[dict]:
    """The set's questions in external_bench's order, with the gold spans mapped into the corpus text."""
    f, folder = EXTERNAL[name]
    d = SCRATCH / "ext" / folder
    with open(f, encoding="utf-8") as fh:
        data = json.load(fh)["data"]
    short = re.sub(r"[^a-z]", "", folder.lower())[:6]  # external_bench names files by the set name given
    with open(d / "gold.jsonl", encoding="utf-8") as fh:
        gold = [json.loads(line) for line in fh]
    with open(d / "answers.jsonl", encoding="utf-8") as fh:
        got = [json.loads(line) for line in fh if line.strip()]
    assert len(gold) == len(got)
    val = set(split["val"])
    docs = Docs(d)
    items = []
    stats = {"questions": 0, "no_gold_span": 0, "gold_retrieved": 0}
    k = 0
    for ai, art in enumerate(data):
        doc = f"{short}{ai:04d}"
        title = clean(art.get("title") or doc)
        paras = [clean(p["context"]) for p in art["paragraphs"]]
        source = f"corpus/{doc}.txt"
        text = docs.get(source)[0].text
        starts, off = [], len(title) + 2
        for p in paras:
            assert text[off:off + len(p)] == p
            starts.append(off)
            off += len(p) + 2
        for pi, p in enumerate(art["paragraphs"]):
            raw = p["context"]
            for qa in p["qas"]:
                q = clean(qa["question"])
                answers = sorted({clean(a["text"]) for a in qa["answers"] if clean(a["text"])})
                impossible = bool(qa.get("is_impossible"))
                if not q or not (answers or impossible):
                    continue
                g, a = gold[k], got[k]
                k += 1
                assert g["question"] == q == clean(a["question"]) and g["doc"] == doc
                spans = set()
                if not impossible:
                    for ans in qa["answers"]:
                        t = clean(ans["text"])
                        if not t:
                            continue
                        m = len(re.sub(r"\s+", " ", raw[:ans.get("answer_start", 0)]).lstrip())
                        occ = [i.start() for i in re.finditer(re.escape(t), paras[pi])]
                        if occ:
                            best = min(occ, key=lambda i: abs(i - m))
                            spans.add((starts[pi] + best, starts[pi] + best + len(t)))
                items.append(make_item(name, "val" if ai in val else "train", q, a, docs, answers if not impossible
                                       else [], doc, sorted(spans), stats, article=ai))
    assert k == len(gold)
    print(name, stats, file=sys.stderr)
    return items


def make_item(name, split, q, a, docs, answers, doc, spans, stats, article=None, evidence=False):
    """Label each candidate sentence. ``spans``: gold (start, end) in ``doc``; ``answers``: strings."""
    res = candidates(docs, a.get("results") or [])
    stats["questions"] += 1
    answerable = bool(answers)
    if answerable and not spans:
        stats["no_gold_span"] += 1
    hit_gold = False
    for r in res:
        for x in r["sents"]:
            if not answerable:
                x["label"] = 0
                continue
            on_gold = r["doc"] == doc and any(x["s"] < e and s < x["e"] and overlap(x, s, e) for s, e in spans)
            if on_gold:
                x["label"] = 1
                hit_gold = True
            elif any(t in clean(x["text"]) for t in answers):
                x["label"] = None  # ambiguous: states the answer string somewhere else
            else:
                x["label"] = 0
    extra = []
    if answerable and spans and not hit_gold:
        source = f"corpus/{doc}.txt" if not evidence else res[0]["source"] if res else None
        if source:
            for s, e in spans:
                for x in docs.sentence_at(source, s, e):
                    if overlap(x, s, e) and all(y["s"] != x["s"] for y in extra):
                        x["label"] = 1
                        x["title"] = docs.get(source)[0].title
                        extra.append(x)
    stats["gold_retrieved"] += hit_gold
    return {"set": name, "split": split, "question": q, "answerable": answerable, "answers": answers,
            "doc": doc, "article": article, "system_answered": a.get("answered"), "results": res,
            "extra_pos": extra}


def overlap(x: dict, s: int, e: int) -> bool:
    """A sentence takes part in a gold span when it holds at least min(4, span) of its characters."""
    return min(x["e"], e) - max(x["s"], s) >= min(4, e - s)


# --------------------------------------------------------------------------- report sets

def norm(s: str) -> str:
    return unicodedata.normalize("NFKC", s)


def report_items(answers_path: Path, names: list[str]) -> list[dict]:
    docs = Docs(REPORT_ROOT)
    with open(answers_path, encoding="utf-8") as fh:
        got = [json.loads(line) for line in fh if line.strip()]
    items, k = [], 0
    stats = {"questions": 0, "no_gold_span": 0, "gold_retrieved": 0, "evidence_not_found": 0}
    for name in names:
        with open(REPORT_DATA / f"{name}_questions.jsonl", encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                rec = json.loads(line)
                a = got[k]
                k += 1
                assert clean(a["question"]) == clean(rec["question"]), (a["question"], rec["question"])
                ev = [e for e in rec["evidence"] if e.strip()]
                spans = []
                source = None
                for r in a.get("results") or []:
                    source = r["citation"]["source"]
                    break
                if ev and source:
                    text = docs.get(source)[0].text
                    ntext = norm(text)
                    assert len(ntext) == len(text)  # NFKC keeps length for this text (checked)
                    for e in ev:
                        occ = [m.start() for m in re.finditer(re.escape(e), text)] or \
                              [m.start() for m in re.finditer(re.escape(norm(e)), ntext)]
                        if not occ:
                            stats["evidence_not_found"] += 1
                        spans += [(i, i + len(e)) for i in occ]
                item = make_item("report", "val" if name in REPORT_VAL else "train", clean(rec["question"]), a,
                                 docs, ev, Path(source).stem if source else None, sorted(set(spans)), stats,
                                 evidence=True)
                item["qid"] = rec.get("id")
                item["type"] = rec.get("type")
                item["source_set"] = name
                items.append(item)
    assert k == len(got), (k, len(got))
    print("report", stats, file=sys.stderr)
    return items


# --------------------------------------------------------------------------- pairs

def select_pairs(item: dict, qi: int, keep: int, extra_hard: int, rng: random.Random,
                 removed: bool = True) -> list[dict]:
    """What the reader sees at inference: the first ``keep`` candidate sentences in the system's order
    (passage rank, then position), every positive in the top 10, and up to ``extra_hard`` more
    sentences of the gold article that do not answer (hard negatives); with ``removed``, each
    answering sentence also without its answer, as a near miss (``answer_removed``)."""
    flat = [(r, x) for r in item["results"] for x in r["sents"] if x["new"] and x["label"] is not None]
    chosen = flat[:keep]
    chosen += [(r, x) for r, x in flat[keep:] if x["label"] == 1]
    hard = [(r, x) for r, x in flat[keep:] if x["label"] == 0 and r["doc"] == item["doc"]]
    rng.shuffle(hard)
    chosen += hard[:extra_hard]
    out = [{"q": item["question"], "title": r["title"], "text": x["text"], "prev": x["prev"], "label": x["label"],
            "set": item["set"], "qi": qi, "rank": r["rank"]} for r, x in chosen]
    out += [{"q": item["question"], "title": x["title"], "text": x["text"], "prev": x["prev"], "label": 1,
             "set": item["set"], "qi": qi, "rank": 99}
            for x in item["extra_pos"]]
    if removed:
        out += [n for n in (answer_removed(p, item["answers"]) for p in out if p["label"] == 1) if n]
    return out


def answer_removed(pair: dict, answers: list[str]) -> dict | None:
    """A near miss made from an answering sentence: the same sentence with the answer taken out
    is about what was asked but no longer states it (the longest answer string it holds; external
    sets' answers are short spans, the report's evidence snippets are not answers, so not those)."""
    if pair["set"] == "report":
        return None
    for answer in sorted(answers, key=len, reverse=True):
        if answer and answer in pair["text"] and len(answer) <= 0.5 * len(pair["text"]):
            return {**pair, "text": pair["text"].replace(answer, "", 1), "label": 0, "rank": 98}
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", type=int, default=8)
    ap.add_argument("--extra-hard", type=int, default=2)
    ap.add_argument("--no-answer-removed", action="store_true", help="leave out the answer-removed near misses")
    ap.add_argument("--report-answers", default=str(SCRATCH / "report" / "answers.jsonl"))
    a = ap.parse_args()
    splits = make_splits(HERE / "splits.json")
    out = SCRATCH / "data"
    out.mkdir(parents=True, exist_ok=True)
    items = []
    for name in EXTERNAL:
        items += external_items(name, splits["external"][name])
    items += report_items(Path(a.report_answers), REPORT_TRAIN + REPORT_VAL)
    with open(out / "questions.jsonl", "w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")
    rng = random.Random(7)
    counts = {}
    with open(out / "pairs_train.jsonl", "w", encoding="utf-8") as ft, \
            open(out / "pairs_val.jsonl", "w", encoding="utf-8") as fv:
        for qi, it in enumerate(items):
            for p in select_pairs(it, qi, a.keep, a.extra_hard, rng, not a.no_answer_removed):
                (ft if it["split"] == "train" else fv).write(json.dumps(p, ensure_ascii=False) + "\n")
                c = counts.setdefault(f"{it['set']}/{it['split']}", [0, 0])
                c[p["label"]] += 1
    for k, (neg, pos) in sorted(counts.items()):
        print(f"{k}: {pos} positive, {neg} negative pairs", file=sys.stderr)


if __name__ == "__main__":
    main()
