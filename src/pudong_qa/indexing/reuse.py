"""What a build can take from the index it replaces: vectors of texts embedded before, BM25
tokens of texts whose cut cannot have changed, and folded texts. Each returns an empty cache
when the previous index was made another way, so reuse is always exact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..chunking import Passage
from ..errors import IndexUnavailable
from ..index import load_index, read_manifest, verify_files
from ..passages import PassageTable, read_passages
from ..stores import StoreOptions
from ..tokenize import normalize
from .texts import embedded_texts, indexed_text, lexical_text, sentence_lexical_texts, token_texts
from .tokens import TOKENS, load_dictionary, load_tokens


def _state(index_dir: Path) -> dict[str, Any]:
    return (read_manifest(index_dir) or {}).get("state", {})


def previous_tokens(index_dir: Path, state: dict[str, Any], dictionary: dict[str, int],
                    folded_docs: dict[str, str], passages: list[Passage]) -> dict[str, list[str]]:
    """Tokens of the current index by text, for the texts whose tokens cannot have changed: same
    tokenizer, stop-words and pipeline, and no dictionary change added, dropped or reweighted
    occurs in the text (``Tokenizer`` pins jieba's total, so a text's cut depends only on the
    dictionary words in it). ``folded_docs``: each document's text through ``normalize``, by source."""
    have = _state(index_dir)
    if not have or any(have.get(k) != state[k] for k in ("format", "pipeline", "stopwords", "tokenizer")):
        return {}
    try:
        old = load_dictionary(index_dir / TOKENS)
        texts = token_texts(read_passages(index_dir))
        tokens = load_tokens(index_dir / TOKENS)
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return {}
    if len(texts) != len(tokens):
        return {}
    cache = dict(zip(texts, tokens))
    changed = {w for w in old.keys() | dictionary.keys() if old.get(w) != dictionary.get(w)}
    if changed:
        affected = {source for source, text in folded_docs.items() if any(t in text for t in changed)}
        for p in passages:
            if p.source in affected:
                for text in (lexical_text(p), *sentence_lexical_texts(p)):
                    if text in cache and any(t in normalize(text) for t in changed):
                        del cache[text]
    return cache


def previous_folds(index_dir: Path, state: dict[str, Any]) -> dict[str, str]:
    """The current index's folded texts (``tokenize.normalize``, most of the time writing the
    passage files takes) by raw text, when folding cannot have changed: same format, pipeline and
    OpenCC."""
    have = _state(index_dir)
    if not have or any(have.get(k) != state[k] for k in ("format", "pipeline", "tokenizer")):
        return {}
    try:
        table = read_passages(index_dir)
        return table.folds() if isinstance(table, PassageTable) else {}
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        return {}


def texts_of_new_documents(index_dir: Path, passages: list[Passage],
                           files: list[dict[str, str]] | None = None) -> list[str]:
    """The distinct embedded texts of the passages of documents that the index at ``index_dir``
    does not have, by path nor (given ``files``, the expected state's ``corpus``: source and sha256
    of each file) by content: none of them can have a vector there yet. A file moved to another
    folder, or a corpus read from another root, is not new; nor is an edited one (most of its
    passages are unchanged)."""
    previous = _state(index_dir).get("corpus", [])
    sources, contents = {f["source"] for f in previous}, {f["sha256"] for f in previous}
    new = {p.source for p in passages} - sources
    if files is not None:
        new -= {f["source"] for f in files if f["sha256"] in contents}
    # passage by passage, each with its sentences: the order fixes the model's batches, and so
    # the last bits of every vector
    return list(dict.fromkeys(t for p in passages if p.source in new for t in (indexed_text(p),
                                                                               *p.sentence_texts())))


def previous_vectors(index_dir: Path, identity: str, options: StoreOptions) -> dict[str, np.ndarray]:
    """Vectors of the current index by the text they embed (never by source path), when it was
    built with the same model: an incremental build embeds only texts that are new, wherever
    their file now lies. Read through the ``Store`` interface, so
    an index in Milvus is reused the same way."""
    have = _state(index_dir)
    if have.get("model") != identity or have.get("vectors", "direct") != "direct" or verify_files(index_dir):
        return {}
    try:
        store = load_index(index_dir, verify=False, options=options).store
        texts = embedded_texts(store.passages)  # decoded once, in blocks
        n = len(store.passages)
        cache = dict(zip(texts[:n], store.passage_vectors(np.arange(n))))
        cache.update(zip(texts[n:], np.asarray(store.sentence_vectors(np.arange(len(texts) - n)))))
    except IndexUnavailable:
        return {}
    return cache
