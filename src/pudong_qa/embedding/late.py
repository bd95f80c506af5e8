"""Faster builds: one forward pass per character ("late chunking", Günther et al. 2024).

An index embeds half-overlapping windows and every sentence inside them, so encoding each
separately sends every character through the model about three times. Here a *cover* of the
windows is encoded (the fewest windows that contain every sentence, so each character passes
once or, where two chosen windows overlap, twice). Their vectors are exactly what
``encode_passages`` gives. Everything else is pooled from their token states:

* a sentence vector is the mean of its tokens' states (where two chosen windows hold the
  sentence, the mean over both);
* a window that was not encoded is the mean of its sentences' token states, plus the prompt,
  heading and <s>/</s> tokens of the chosen window its first sentence came from, as in a
  direct encoding.

Everything is L2-normalised. ``mode="windows"`` pools only the windows and encodes each distinct
sentence on its own (sentence vectors as before); ``mode="sentences"`` encodes every window (window
vectors as before) and only pools the sentences.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from .encoders import PASSAGE_BATCH, Encoder, char_progress

MODES = ("off", "windows", "sentences", "late")


def choose_cover(units: Sequence[Sequence[int]]) -> list[int]:
    """Indices of windows covering every unit (sentence) id: greedily, the window reaching furthest
    among those starting at or before the first uncovered unit. ``units[i]`` is window i's run of
    consecutive ids (ids are numbered in reading order, windows listed in reading order)."""
    ids = sorted({u for run in units for u in run})
    rank = {u: k for k, u in enumerate(ids)}
    spans = sorted((rank[run[0]], rank[run[-1]] + 1, i) for i, run in enumerate(units) if run)
    chosen, pos, j, best = [], 0, 0, None
    while pos < len(ids):
        while j < len(spans) and spans[j][0] <= pos:
            if best is None or spans[j][1] > best[1]:
                best = spans[j]
            j += 1
        if best is None or best[1] <= pos:  # a gap no window covers cannot happen; be safe
            best = spans[j]
            j += 1
        chosen.append(best[2])
        pos = best[1]
        best = None
    return sorted(set(chosen))


def late_vectors(
    encoder: Encoder,
    texts: Sequence[str],
    spans: Sequence[Sequence[tuple[int, int]]],
    keys: Sequence[Sequence[Hashable]],
    mode: str = "late",
    int8: bool = False,
    batch_size: int = PASSAGE_BATCH,
    progress: bool = False,
) -> tuple[np.ndarray, dict[Hashable, np.ndarray], int]:
    """Vectors for windows ``texts`` and for the sentences in them.

    ``spans[i]`` are the character spans of window i's sentences inside ``texts[i]`` and
    ``keys[i]`` their ids (the same sentence has the same id in every window holding it).
    Returns (window vectors in input order, sentence vectors by id, texts encoded)."""
    if mode not in MODES[1:]:
        raise ValueError(f"unknown fast build mode {mode!r}; use one of {', '.join(MODES)}")
    order = {k: n for n, k in enumerate(dict.fromkeys(k for ks in keys for k in ks))}
    runs = [[order[k] for k in ks] for ks in keys]
    chosen = choose_cover(runs) if mode in ("late", "windows") else list(range(len(texts)))
    bar = char_progress(sum(len(texts[i]) for i in chosen), progress)
    encoded = encoder.iter_tokens([texts[i] for i in chosen], batch_size, int8=int8, progress=bar)
    dim = encoder.dim
    sums = np.zeros((len(order), dim), dtype=np.float64)
    counts = np.zeros(len(order), dtype=np.int64)
    context: dict[int, tuple[np.ndarray, int]] = {}  # sentence → (sum, count) of its window's other tokens
    vectors = np.zeros((len(texts), dim), dtype=np.float32)
    for c, vec, states, offsets, inside in encoded:  # one batch of token states at a time
        i = chosen[c]
        vectors[i] = vec
        used = np.zeros(len(offsets), dtype=bool)
        for (a, b), u in zip(spans[i], runs[i]):
            sel = inside & (offsets >= a) & (offsets < b)
            used |= sel
            if sel.any():
                sums[u] += states[sel].sum(0)
                counts[u] += int(sel.sum())
        rest = ~used
        for u in runs[i][:1]:
            if u not in context:
                context[u] = (states[rest].sum(0, dtype=np.float64), int(rest.sum()))
    bar.close()
    pooled = sorted(set(range(len(texts))) - set(chosen))
    for i in pooled:
        run = runs[i]
        total = sums[run].sum(0)
        n = int(counts[run].sum())
        extra = context.get(run[0]) if run else None
        if extra is None:  # the first sentence came from the middle of a chosen window
            extra = next((context[u] for u in run if u in context), (0.0, 0))
        total = total + extra[0]
        n += extra[1]
        vectors[i] = total / max(n, 1)
        if not counts[run].sum():  # none of its sentences kept a token: encode it on its own
            vectors[i] = encoder.encode_passages([texts[i]])[0]
    sentence = np.zeros((len(order), dim), dtype=np.float32)
    have = counts > 0
    sentence[have] = sums[have] / counts[have, None]
    missing = np.flatnonzero(~have).tolist()
    if mode == "windows":  # sentences encoded on their own, as before (each distinct one once)
        missing = list(range(len(order)))
    if missing:  # no token of its own (e.g. truncated away), or mode "windows": encode it on its own
        owner = {u: (i, j) for i, run in enumerate(runs) for j, u in enumerate(run)}
        alone = [texts[owner[u][0]][slice(*spans[owner[u][0]][owner[u][1]])] for u in missing]
        sentence[missing] = encoder.encode_passages(alone)
    if pooled:
        vectors[pooled] /= np.maximum(np.linalg.norm(vectors[pooled], axis=1, keepdims=True), 1e-12)
    sentence /= np.maximum(np.linalg.norm(sentence, axis=1, keepdims=True), 1e-12)
    return vectors, dict(zip(order, sentence)), len(chosen) + len(missing)
