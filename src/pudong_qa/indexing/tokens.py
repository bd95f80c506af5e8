"""Each passage's and sentence's BM25 tokens, stored with the index so that an incremental
build tokenizes only what changed (a vocabulary as JSON and two integer arrays, no pickle)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..tokenize import Tokenizer, token_ids

TOKENS = "tokens"
DICTIONARY = "dictionary.json"


def save_tokens(directory: Path, token_lists: list[list[str]], dictionary: dict[str, int]) -> None:
    """Token lists, with the dictionary changes they were cut with (``Tokenizer.dictionary_changes``)."""
    directory.mkdir()
    (directory / DICTIONARY).write_text(json.dumps(dictionary, ensure_ascii=False, sort_keys=True),
                                        encoding="utf-8")
    vocab, ids = token_ids(token_lists)
    ids = ids.astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in token_lists], dtype=np.int64)])
    (directory / "vocab.json").write_text(json.dumps(list(vocab), ensure_ascii=False), encoding="utf-8")
    np.save(directory / "ids.npy", ids, allow_pickle=False)
    np.save(directory / "offsets.npy", offsets, allow_pickle=False)


def load_tokens(directory: Path) -> list[list[str]]:
    vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
    ids = np.load(directory / "ids.npy", allow_pickle=False).tolist()
    offsets = np.load(directory / "offsets.npy", allow_pickle=False).tolist()
    words = list(map(vocab.__getitem__, ids))
    return [words[a:b] for a, b in zip(offsets[:-1], offsets[1:])]


def load_dictionary(directory: Path) -> dict[str, int]:
    return json.loads((directory / DICTIONARY).read_text(encoding="utf-8"))


def tokenize_texts(tokenizer: Tokenizer, texts: list[str],
                   cache: dict[str, list[str]]) -> tuple[list[list[str]], int]:
    """BM25 tokens of ``texts``: from ``cache`` where known, each other distinct text tokenized
    once (overlapping passages share sentences). Returns (tokens, how many texts were tokenized)."""
    fresh: dict[str, list[str]] = {}
    out = []
    for text in texts:
        tokens = cache.get(text)
        if tokens is None:
            tokens = fresh.get(text)
            if tokens is None:
                tokens = fresh[text] = tokenizer.tokens(text)
        out.append(tokens)
    return out, len(fresh)
