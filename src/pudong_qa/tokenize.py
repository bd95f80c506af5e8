"""Text normalisation and jieba tokenizing, shared by the index and the query side.

Both sides go through the same ``normalize`` (NFKC folds full-/half-width forms, OpenCC
folds traditional into simplified characters, case is folded) and the same jieba
dictionary, so a query matches the index however it was typed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from importlib.resources import files
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

from .document import Document, parse_heading

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


def load_stopwords() -> frozenset[str]:
    """Question and function words that say nothing about *which* passage answers."""
    text = (files("pudong_qa") / "data" / "stopwords.txt").read_text(encoding="utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


STOPWORDS = load_stopwords()
MIN_WORD_CHARS = 2  # a single character says too little about which passage answers
WORDS_CACHE_SIZE = 4096  # questions' precise-mode segmentations kept per tokenizer

_PUNCT_OR_SPACE = re.compile(r"^[\W_]+$", re.UNICODE)
_QUOTED = re.compile(r"[“\"「『‘]([^”\"」』’]{2,12})[”\"」』’]")
_BOOK_TITLE = re.compile(r"《([^》]{2,30})》")
_TERM_SPLIT = re.compile(r"[\s，,、；;：:。！？!?（）()“”\"‘’《》「」『』]+")
_LEADING_NUMBER = re.compile(
    r"^(?:第[^章节编篇部]+[章节编篇部]|[一二三四五六七八九十百零〇两\d]+[、.．]|[（(][^)）]{1,3}[)）]|[①-⑩]|#+)\s*"
)


@lru_cache(maxsize=1)
def _converter():
    import opencc

    return opencc.OpenCC("t2s")


def normalize(text: str) -> str:
    """Fold width, traditional/simplified and case; keeps everything else as is."""
    text = unicodedata.normalize("NFKC", text)
    return _converter().convert(text).lower()


def normalize_all(texts: list[str]) -> list[str]:
    """``normalize`` of each text in one pass (one OpenCC call instead of one per text); texts
    that contain a newline are folded one by one, so the split back is always exact."""
    if len(texts) < 2 or any("\n" in t for t in texts):
        return [normalize(t) for t in texts]
    out = normalize("\n".join(texts)).split("\n")
    return out if len(out) == len(texts) else [normalize(t) for t in texts]


def corpus_terms(docs: Iterable[Document], folded: Iterable[str] | None = None) -> list[str]:
    """Words a general dictionary does not know but the documents name explicitly:
    quoted terms, book titles and the phrases of headings. ``folded``: the documents' texts
    already through ``normalize``, if the caller has them."""
    terms: set[str] = set()
    for text in folded if folded is not None else (normalize(doc.text) for doc in docs):
        for m in _QUOTED.finditer(text):
            terms.update(t for t in _TERM_SPLIT.split(m.group(1)) if 2 <= len(t) <= 8)
        for m in _BOOK_TITLE.finditer(text):
            terms.add(m.group(1).strip())
        for line in text.splitlines():
            heading = parse_heading(line)
            if heading:
                label = _LEADING_NUMBER.sub("", heading[1])
                terms.update(t for t in _TERM_SPLIT.split(label) if 2 <= len(t) <= 8)
    return sorted(t for t in terms if not _PUNCT_OR_SPACE.match(t) and not t.isdigit())


_BASE_LOCK = threading.Lock()
_BASE: tuple[dict[str, int], int] | None = None


def _base_dictionary(cache_dir: Path | None) -> tuple[dict[str, int], int]:
    """jieba's own dictionary (word → count, total), loaded once per process and copied by each
    tokenizer (~20 ms): a rebuild in the chat page makes new tokenizers for the new corpus terms,
    and reloading it would take a core from the model for as long."""
    global _BASE
    with _BASE_LOCK:
        if _BASE is None:
            folder = _dictionary_cache(cache_dir)
            _BASE = _read_dictionary(folder) or _jieba_dictionary(folder)
    return _BASE


def _dictionary_cache(cache_dir: Path | None) -> Path:
    """Where jieba's dictionary is kept as plain files (beside the model), per jieba version and
    dictionary file, so virtualenvs share one copy."""
    import hashlib

    import jieba

    from .settings import default_cache_dir

    digest = hashlib.sha256((Path(jieba.__file__).parent / "dict.txt").read_bytes()).hexdigest()[:16]
    return Path(cache_dir or default_cache_dir()).expanduser() / "jieba" / f"{jieba.__version__}-{digest}"


def _read_dictionary(folder: Path) -> tuple[dict[str, int], int] | None:
    """jieba's cache is one marshal file that takes ~1.4 s to read here (half a million strings);
    the same dictionary as a text of words and a numpy array of counts reads in ~0.4 s, so every
    process that tokenizes (a build, ``ask``, the page) starts a second sooner."""
    import numpy as np

    try:
        words = (folder / "words.txt").read_text(encoding="utf-8").split("\n")
        counts = np.load(folder / "counts.npy", allow_pickle=False)
        total = int(json.loads((folder / "total.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
    if len(words) != len(counts):
        return None
    return dict(zip(words, counts.tolist())), total


def _jieba_dictionary(folder: Path) -> tuple[dict[str, int], int]:
    """jieba's dictionary as jieba loads it, kept as plain files in ``folder`` for the next process."""
    import logging
    import tempfile

    import jieba
    import numpy as np

    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.initialize()
    freq, total = tok.FREQ, tok.total
    if "\n" not in "".join(freq) and not folder.exists():
        tmp = None
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
            (tmp / "words.txt").write_text("\n".join(freq), encoding="utf-8")
            np.save(tmp / "counts.npy", np.fromiter(freq.values(), dtype=np.int64, count=len(freq)),
                    allow_pickle=False)
            (tmp / "total.json").write_text(json.dumps(total), encoding="utf-8")
            os.replace(tmp, folder)  # whole or not at all; another process may have won
        except OSError:  # a read-only cache folder: jieba's own load next time
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)
    return freq, total


def _pos_tokenizer(tok):
    """jieba's part-of-speech tagger over ``tok``, with a copy of the word → tag table jieba.posseg
    read at import: ``POSTokenizer(tok)`` would read dict.txt again (~0.6 s) for each new index."""
    import jieba.posseg

    class _Tagger(jieba.posseg.POSTokenizer):
        def __init__(self) -> None:  # what the parent's does, minus reading the file
            self.tokenizer = tok
            self.word_tag_tab = dict(jieba.posseg.dt.word_tag_tab)

    return _Tagger()


class Tokenizer:
    """jieba (search mode) with the corpus's own terms, minus stop-words and punctuation.
    ``cache_dir``: where jieba's dictionary is kept as plain files (the settings' cache folder)."""

    def __init__(self, user_words: Iterable[str] = (), cache_dir: Path | None = None) -> None:
        self.user_words = sorted(set(user_words))
        self.cache_dir = cache_dir
        self._jieba = None
        self._posseg = None
        self._changed: dict[str, int] = {}
        self._lock = threading.Lock()

    def _get(self):
        if self._jieba is None:
            with self._lock:
                if self._jieba is None:
                    import jieba

                    freq, base_total = _base_dictionary(self.cache_dir)
                    tok = jieba.Tokenizer()
                    tok.FREQ, tok.total, tok.initialized = dict(freq), base_total, True
                    before = {word: tok.FREQ.get(word) for word in self.user_words}
                    for word in self.user_words:
                        if before[word]:  # a word jieba knows already: adding it would only add 1 to its count
                            continue
                        tok.add_word(word)
                        # jieba adds each word's weight to the total every path is scored against, so
                        # one document's terms would shift how every other text is cut; pinned, a
                        # text's tokens depend only on the corpus terms it contains, and an
                        # incremental build can reuse the tokens of every other text
                        tok.total = base_total
                    self._changed = {w: tok.FREQ[w] for w in self.user_words if tok.FREQ[w] != before[w]}
                    self._jieba = tok
        return self._jieba

    def dictionary_changes(self) -> dict[str, int]:
        """The corpus terms added to jieba's dictionary, with their weights (terms jieba knows
        already are left alone); a text's tokens differ from plain jieba's only if it contains
        one of them."""
        self._get()
        return dict(self._changed)

    def warm_up(self) -> None:
        """Load the jieba dictionary and its part-of-speech tables now (~1 s) rather than on the
        first question that needs them ("how many X", "who")."""
        self._get()
        self.tagged("预热")

    @staticmethod
    def is_content(tok: str) -> bool:
        tok = tok.strip()
        return bool(tok) and tok not in STOPWORDS and not _PUNCT_OR_SPACE.match(tok)

    def tokens(self, text: str, normalized: bool = False) -> list[str]:
        """Search-mode tokens (words and their sub-words) for BM25, minus stop-words."""
        text = text if normalized else normalize(text)
        return [tok.strip() for tok in self._get().cut_for_search(text) if self.is_content(tok)]

    def words(self, text: str) -> list[str]:
        """Precise-mode segmentation of already normalised text, stop-words included (cached:
        the query side asks for the same question's words several times)."""
        return list(self._words(text))

    def content_words(self, text: str, min_chars: int = MIN_WORD_CHARS) -> list[str]:
        """The words of already normalised text that can tell passages apart: no stop-words,
        no punctuation, at least ``min_chars`` characters; in order, repeats kept."""
        return [w.strip() for w in self.words(text) if self.is_content(w) and len(w.strip()) >= min_chars]

    def entity_tags(self, text: str) -> frozenset[str]:
        """jieba part-of-speech tags of names in already normalised text: "nr" (a person),
        "ns" (a place), "nt" (an organisation); cached like ``words``."""
        return self._tags(text)

    @lru_cache(maxsize=WORDS_CACHE_SIZE)  # noqa: B019 - one tokenizer per index, kept for the process
    def _tags(self, text: str) -> frozenset[str]:
        return frozenset(f[:2] for _, f in self.tagged(text) if f[:2] in ("nr", "ns", "nt"))

    @lru_cache(maxsize=WORDS_CACHE_SIZE)  # noqa: B019 - one tokenizer per index, kept for the process
    def tagged(self, text: str) -> tuple[tuple[str, str], ...]:
        """(word, jieba part-of-speech flag) of already normalised text; the corpus dictionary's
        own terms have the flag "x"."""
        if self._posseg is None:
            self._posseg = _pos_tokenizer(self._get())
        return tuple((w.strip(), f) for w, f in self._posseg.cut(text) if w.strip())

    @staticmethod
    def is_noun(flag: str) -> bool:
        """A jieba flag of a noun, a name, a verbal noun, a Latin word or a corpus term ("x")."""
        return flag[:1] == "n" or flag in ("vn", "eng", "x")

    @lru_cache(maxsize=WORDS_CACHE_SIZE)  # noqa: B019 - one tokenizer per index, kept for the process
    def _words(self, text: str) -> tuple[str, ...]:
        return tuple(self._get().cut(text))


def token_ids(token_lists: list[list[str]]) -> tuple[dict[str, int], np.ndarray]:
    """Each distinct token's id, in order of first use (so the same texts give the same files),
    and every token's id, one list after another. Mapped by dict and map in C, without a Python
    step per token: 0.05 s instead of 0.3 s for drcd-dev's 776,000 tokens."""
    import numpy as np

    flat = list(chain.from_iterable(token_lists))
    vocab = dict.fromkeys(flat, 0)
    for i, token in enumerate(vocab):
        vocab[token] = i
    return vocab, np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
