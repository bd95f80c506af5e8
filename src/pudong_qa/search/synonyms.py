"""Other words for what a question names: the short forms a document defines for itself
("国内生产总值(GDP)", "…(以下简称“区政府”)"), found when the index is built, and a small table of
common abbreviations and everyday names of administrative and economic terms (data/synonyms.txt).

A question's expansions are searched at a lower weight than its own words (``Searcher._lexical``),
count as its words for the confidence and the answer sentence, and are shown ("gdp ≈ 生产总值").
No maintained Chinese thesaurus on PyPI fits (docs/retrieval.md): the ones there are broad
semantic classes (a word's "synonyms" include its opposites' neighbours), load vectors from a hub
at run time, or have an unclear licence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

MAX_SHORT_CHARS = 10  # a defined short form is short
MAX_LONG_CHARS = 16  # ... and the full name it stands for is a few words

_LATIN = re.compile(r"^[a-z0-9&.\-]+$")
# "国内生产总值(gdp)" and "浦东新区人民政府(以下简称“区政府”)", on normalised text (NFKC: ASCII parentheses)
_ACRONYM = re.compile(r"([\u3400-\u9fff]{2,40})\(([a-z][a-z0-9&.\-]{1,9})\)")
_CALLED = re.compile(r"([\u3400-\u9fff]{2,40})[(,，]?\s*(?:以下|下文)?(?:简称|简写为|以下称)\s*[“\"「]"
                     r"([^”\"」]{1,10})[”\"」]")
_NAME_FLAGS = ("n", "s", "vn", "j", "l", "b", "an", "eng", "x")  # words a name is made of


def load_table() -> dict[str, tuple[str, ...]]:
    """data/synonyms.txt as word → other words. A line's words are one group, each the others'
    other word ("gdp 国内生产总值 生产总值"); a line "A > B C" is one way: A (an everyday word) gets
    B and C, and each of them gets only A ("老百姓 > 居民 群众": 居民 is not 群众's other word)."""
    text = (files("pudong_qa") / "data" / "synonyms.txt").read_text(encoding="utf-8")
    table: dict[str, list[str]] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) < 2 or line.startswith("#"):
            continue
        if words[1] == ">":
            first, rest = words[0], words[2:]
            table.setdefault(first, []).extend(rest)
            for w in rest:
                table.setdefault(w, []).append(first)
        else:
            for w in words:
                table.setdefault(w, []).extend(o for o in words if o != w)
    return {w: tuple(dict.fromkeys(alts)) for w, alts in table.items()}


@lru_cache(maxsize=1)
def common_table() -> Mapping[str, tuple[str, ...]]:
    return load_table()


def _name_tail(run: str, tagged, short: str = "") -> str:
    """The full name at the end of a run of Chinese before a defined short form. A Chinese short
    form takes its characters from the name, in order: the shortest run of last words that holds
    them, then the name-like words before it (示范区综合开发管理委员会 → 示范委, 上海市浦东新区人民政府 →
    区政府); otherwise (GDP) the last words that make up a name (nouns, places, abbreviations), at
    most MAX_LONG_CHARS characters ("全年实现国内生产总值" → 国内生产总值)."""
    words = list(tagged(run))
    start = len(words)
    if not _LATIN.match(short):
        start = next((k for k in range(len(words) - 1, -1, -1)
                      if _in_order(short, "".join(w for w, _ in words[k:]))), len(words))  # else: name-like words
    out = "".join(w for w, _ in words[start:])
    for word, flag in reversed(words[:start]):
        if not flag.startswith(_NAME_FLAGS) or len(out) + len(word) > MAX_LONG_CHARS:
            break
        out = word + out
    return out if len(out) <= MAX_LONG_CHARS else ""


def _in_order(short: str, text: str) -> bool:
    """Are the characters of ``short`` in ``text``, in order (示范委 in 示范区综合开发管理委员会)?"""
    rest = iter(text)
    return all(ch in rest for ch in short)


def defined_short_forms(texts: Iterable[str], tagged) -> dict[str, list[str]]:
    """The short forms (normalised) documents define, each with the full names it stands for.
    ``texts`` are normalised; ``tagged`` is ``Tokenizer.tagged``."""
    found: dict[str, list[str]] = {}
    for text in texts:
        for pattern in (_ACRONYM, _CALLED):
            for m in pattern.finditer(text):
                short = m.group(2).strip()
                long = _name_tail(m.group(1), tagged, short)
                if (len(long) >= 2 and 2 <= len(short) <= MAX_SHORT_CHARS and short != long
                        and long not in found.setdefault(short, [])):
                    found[short].append(long)
    return {s: longs for s, longs in sorted(found.items()) if longs}


@dataclass(frozen=True)
class Expansion:
    """A word of the question and the other words searched for it."""

    word: str
    others: tuple[str, ...]


@dataclass(frozen=True)
class Synonyms:
    """The table of other words a search uses: the common table and an index's own short forms."""

    table: Mapping[str, tuple[str, ...]]
    defined: frozenset[tuple[str, str]] = frozenset()  # (word, other) pairs only a document's short form gives

    @classmethod
    def of(cls, short_forms: Mapping[str, Iterable[str]] | None = None,
           common: Mapping[str, tuple[str, ...]] | None = None) -> Synonyms:
        common = common if common is not None else common_table()
        table = {w: list(alts) for w, alts in common.items()}
        defined = set()
        for short, longs in (short_forms or {}).items():
            for long in longs:
                for word, other in ((short, long), (long, short)):
                    table.setdefault(word, []).append(other)
                    if other not in common.get(word, ()):
                        defined.add((word, other))
        return cls({w: tuple(dict.fromkeys(alts)) for w, alts in table.items()}, frozenset(defined))

    @property
    def longest(self) -> int:
        return max(map(len, self.table), default=0)

    def expand(self, query: str, keep=lambda word, other, defined: True) -> tuple[Expansion, ...]:
        """The table's words in a normalised query, longest first and not overlapping, with their
        other words that ``keep(word, other, defined)`` accepts (``defined``: the pair comes from a
        document's short form only) and the query does not already say; a Latin word counts only
        whole ("gdp", not inside "gdpr")."""
        taken = [False] * len(query)
        out = []
        for n in range(min(self.longest, len(query)), 1, -1):
            for i in range(len(query) - n + 1):
                word = query[i:i + n]
                if word not in self.table or any(taken[i:i + n]):
                    continue
                if _LATIN.match(word) and (_latin_at(query, i - 1) or _latin_at(query, i + n)):
                    continue
                others = tuple(w for w in self.table[word]
                               if w not in query and keep(word, w, (word, w) in self.defined))
                taken[i:i + n] = [True] * n
                if others:
                    out.append(Expansion(word, others))
        return tuple(out)


def _latin_at(text: str, i: int) -> bool:
    return 0 <= i < len(text) and bool(_LATIN.match(text[i]))


def present(word: str, text: str, others: Mapping[str, tuple[str, ...]]) -> bool:
    """Is ``word``, or one of its other words, in ``text``?"""
    return word in text or any(w in text for w in others.get(word, ()))
