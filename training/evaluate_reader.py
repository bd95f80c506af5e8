"""Validation figures of a trained reader, at question level, on the held-out parts
(held-out articles of cmrc/drcd/squad2, report heldout5).

  python training/evaluate_reader.py training/work/weights [--sets cmrc drcd squad2 report] [--max-q N] [--json OUT]

For each question the candidates come in the system's order (frozen CLI, top 10):
  answered(A)  := max reader prob over the FIRST passage's sentences >= tau
  answered(B)  := max reader prob over the first 3 passages' sentences >= tau (= the first after reordering)
  hit@1        : system order vs. the first 3 passages reordered by reader prob - lam * (rank - 1)
  sentence@1   : the gold answer inside the reader's best sentence of the first passage (system: its `answer`)
refusal = unanswerable questions with answered=false; false refusal = answerable with answered=false.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reader_common import SCRATCH, load_trained, text_of, tokenizer
from train_reader import PREV_CHARS

FR_TARGET = {"report": 0.05, "cmrc": 0.02, "drcd": 0.02, "squad2": 0.10}
TAUS = [round(x, 3) for x in np.concatenate([np.arange(0.01, 0.1, 0.01), np.arange(0.1, 0.95, 0.05)])]


def clean(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def score_pairs(model, tok, meta, pairs: list[tuple[str, str, str, str]], bs: int = 64) -> np.ndarray:
    """pairs: (question, title, sentence, prev) -> P(answers)."""
    import torch

    texts = [text_of(t, s, p[-PREV_CHARS:], meta["input_form"]) for _, t, s, p in pairs]
    enc = tok([q for q, *_ in pairs], texts, truncation="only_second", max_length=meta["max_length"])["input_ids"]
    order = np.argsort([len(x) for x in enc], kind="stable")
    out = np.zeros(len(pairs), dtype=np.float32)
    with torch.no_grad():
        for i in range(0, len(order), bs):
            idx = order[i:i + bs]
            n = max(len(enc[j]) for j in idx)
            x = torch.ones((len(idx), n), dtype=torch.long)
            m = torch.zeros((len(idx), n), dtype=torch.long)
            for r, j in enumerate(idx):
                x[r, :len(enc[j])] = torch.tensor(enc[j])
                m[r, :len(enc[j])] = 1
            out[idx] = torch.sigmoid(model(x, m).squeeze(-1)).numpy()
    return out


def has_gold(item: dict, r: dict, text: str) -> bool:
    if item["set"] == "report":
        return any(e in text for e in item["answers"])
    return r["doc"] == item["doc"] and any(a in clean(text) for a in item["answers"])


def load_items(sets, max_q: int, seed: int = 5) -> list[dict]:
    with open(SCRATCH / "data" / "questions.jsonl", encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh]
    items = [it for it in items if it["split"] == "val" and it["set"] in sets]
    if max_q:
        by = {}
        for it in items:
            by.setdefault(it["set"], []).append(it)
        items = [it for s in sets
                 for it in (random.Random(seed).sample(by[s], min(max_q, len(by[s]))) if s in by else [])]
    return items


def best_text(res: list[dict], pr: list[np.ndarray], k: int) -> str:
    """The text of the reader's best sentence in passage ``k`` ("" when it has none)."""
    return res[k]["sents"][int(np.argmax(pr[k]))]["text"] if len(pr[k]) else ""


def evaluate(items, probs_of) -> dict:
    """probs_of(item) -> list (per passage among the first 3) of arrays of sentence probs."""
    out = {}
    for s in sorted({it["set"] for it in items}):
        its = [it for it in items if it["set"] == s]
        ans = [it for it in its if it["answerable"]]
        una = [it for it in its if not it["answerable"]]
        mA, mB = [], []
        hit_sys, sent_sys, sent_rd = [], [], []
        hit_re = {lam: [] for lam in (0.0, 0.05, 0.1, 0.2, 0.3)}
        sent_re = {lam: [] for lam in hit_re}
        for it in its:
            res = it["results"][:3]
            pr = probs_of(it)
            mx = [float(p.max()) if len(p) else 0.0 for p in pr]
            mA.append(mx[0] if mx else 0.0)
            mB.append(max(mx) if mx else 0.0)
            if not it["answerable"]:
                continue
            hit_sys.append(bool(res) and has_gold(it, res[0], res[0]["text"]))
            sent_sys.append(bool(res) and has_gold(it, res[0], res[0]["answer"]))
            sent_rd.append(bool(res) and has_gold(it, res[0], best_text(res, pr, 0)))
            for lam in hit_re:
                if not res:
                    hit_re[lam].append(False)
                    sent_re[lam].append(False)
                    continue
                k = max(range(len(res)), key=lambda k: (mx[k] - lam * k, -k))
                hit_re[lam].append(has_gold(it, res[k], res[k]["text"]))
                sent_re[lam].append(has_gold(it, res[k], best_text(res, pr, k)))
        is_ans = np.array([it["answerable"] for it in its])
        sysa = np.array([it["system_answered"] is not False for it in its])
        m = {"questions": len(its), "answerable": len(ans), "unanswerable": len(una),
             "system": {"hit@1": np.mean(hit_sys), "sentence@1": np.mean(sent_sys),
                        "false_refusal": float(np.mean(~sysa[is_ans])),
                        "refusal": float(np.mean(~sysa[~is_ans])) if len(una) else None},
             "reader": {"sentence@1_first": np.mean(sent_rd),
                        "reorder_hit@1": {str(lam): np.mean(v) for lam, v in hit_re.items()},
                        "reorder_sentence@1": {str(lam): np.mean(v) for lam, v in sent_re.items()}}}
        for tag, mm in (("A", np.array(mA)), ("B", np.array(mB))):
            curve = []
            for tau in TAUS:
                fr = float(np.mean(mm[is_ans] < tau)) if is_ans.any() else None
                rf = float(np.mean(mm[~is_ans] < tau)) if (~is_ans).any() else None
                curve.append((tau, fr, rf))
            ok = [c for c in curve if c[1] is not None and c[1] <= FR_TARGET[s]]
            m[f"answered_{tag}"] = {"curve": curve, "at_target": max(ok, key=lambda c: c[0]) if ok else None,
                                    "fr_target": FR_TARGET[s]}
        out[s] = m
    return out


def fmt(res: dict) -> str:
    lines = []
    for s, m in res.items():
        sy = m["system"]
        lines.append(f"[{s}] {m['questions']} q ({m['unanswerable']} unanswerable)  system: hit@1 {sy['hit@1']:.3f} "
                     f"sent@1 {sy['sentence@1']:.3f} FR {sy['false_refusal']:.3f}"
                     + (f" refusal {sy['refusal']:.3f}" if sy["refusal"] is not None else ""))
        r = m["reader"]
        lines.append("   reader: sent@1(first) {:.3f}  reorder hit@1 {}  reorder sent@1 {}".format(
            r["sentence@1_first"], " ".join(f"l{k}={v:.3f}" for k, v in r["reorder_hit@1"].items()),
            " ".join(f"l{k}={v:.3f}" for k, v in r["reorder_sentence@1"].items())))
        for tag in ("A", "B"):
            a = m[f"answered_{tag}"]
            t = a["at_target"]
            lines.append(f"   answered_{tag}: at FR<={a['fr_target']}: " + (
                f"tau={t[0]} FR={t[1]:.3f} refusal={t[2] if t[2] is None else round(t[2], 3)}" if t else "none"))
            lines.append("      tau/FR/refusal: " + "  ".join(
                f"{c[0]}:{c[1]:.3f}/{'-' if c[2] is None else f'{c[2]:.2f}'}" for c in a["curve"] if c[0] in
                (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("weights", nargs="?", default=str(SCRATCH / "weights"))
    ap.add_argument("--sets", nargs="+", default=["report", "cmrc", "drcd", "squad2"])
    ap.add_argument("--max-q", type=int, default=0, help="at most this many validation questions per set (pilot)")
    ap.add_argument("--json")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    model, meta = load_trained(Path(a.weights))
    tok = tokenizer()
    items = load_items(a.sets, a.max_q)
    keys, pairs = {}, []
    for it in items:
        for r in it["results"][:3]:
            for x in r["sents"]:
                k = (it["question"], r["source"], x["s"], x["e"])
                if k not in keys:
                    keys[k] = len(pairs)
                    pairs.append((it["question"], r["title"], x["text"], x["prev"]))
    probs = score_pairs(model, tok, meta, pairs)

    def probs_of(it):
        return [np.array([probs[keys[(it["question"], r["source"], x["s"], x["e"])]] for x in r["sents"]])
                for r in it["results"][:3]]

    res = evaluate(items, probs_of)
    print(f"reader {a.weights}: L={meta['layers']} form={meta['input_form']}  ({len(pairs)} pairs scored)")
    print(fmt(res))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(res, fh, indent=1, default=float)


if __name__ == "__main__":
    main()
