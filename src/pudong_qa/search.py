"""Hybrid search: BM25 (jieba) + dense (e5) over passages, sentence-level answers, citations.

The one retrieval API; the CLI and the chat page only render what ``Searcher.search``
returns.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .chunking import Passage
from .index import Index
from .tokenize import normalize

MAX_QUERY_CHARS = 512  # longer questions are answered from this prefix


@dataclass(frozen=True)
class Citation:
    source: str
    title: str
    section: str
    paragraph: int
    start: int
    end: int


@dataclass(frozen=True)
class Result:
    rank: int
    score: float
    text: str
    answer: str
    answer_start: int  # absolute offsets of the answer in the source
    answer_end: int
    citation: Citation
    passage_id: int

    def to_dict(self) -> dict:
        c = self.citation
        return {
            "rank": self.rank,
            "score": round(self.score, 4),
            "text": self.text,
            "answer": self.answer,
            "citation": {"source": c.source, "title": c.title, "section": c.section,
                         "paragraph": c.paragraph, "start": c.start, "end": c.end},
        }


@dataclass
class SearchResponse:
    question: str
    query: str  # what was actually searched, after normalisation
    answered: bool
    results: list[Result]
    confidence: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"question": self.question, "answered": self.answered,
                "results": [r.to_dict() for r in self.results]}


_SPACE = re.compile(r"\s+")


_WORD = re.compile(r"[^\W_]")  # a letter, digit or CJK character


def clean_query(question: str) -> str:
    """Normalise a raw question: width/script/case folding, no control chars, bounded length.

    Only a prefix of a very long question is read, so the cost of a question is bounded.
    A question with no letter, digit or CJK character (punctuation, emoji) becomes "".
    """
    q = "".join(ch if ch.isprintable() else " " for ch in question[: MAX_QUERY_CHARS * 2])
    q = _SPACE.sub(" ", normalize(q)).strip()[:MAX_QUERY_CHARS]
    return q if _WORD.search(q) else ""


def question_problem(question: str) -> str | None:
    """Why a question cannot be searched at all, or None if it can."""
    if not question.strip():
        return "empty question"
    if not clean_query(question):
        return "no words in the question (only punctuation, symbols or control characters)"
    return None


@dataclass(frozen=True)
class SearchConfig:
    """Fusion weights and thresholds; measured on the dev set (see docs/retrieval.md)."""

    lexical_weight: float = 0.5  # share of BM25 vs dense in the fused score
    sentence_share: float = 0.5  # share of the best single sentence vs the whole passage
    phrase_weight: float = 0.3  # bonus for contiguous query phrases found verbatim
    candidates: int = 100  # per retriever, before reranking
    lead_chars: int = 40  # an answer sentence shorter than this is extended by the next one
    answer_chars: int = 160  # ... but the answer never grows beyond this
    answer_lexical: float = 0.5  # share of term matching (vs dense) when picking the answer sentence
    neighbour_share: float = 0.8  # a neighbouring sentence scoring this close to the best joins the answer
    definition_weight: float = 0.2  # "X 是什么": bonus for a sentence that defines X ("X…是…", "即X")
    preamble_weight: float = 0.3  # questions about the document itself favour the text before the first heading
    min_confidence: float = 0.4  # below this the first result is shown as low-confidence
    cosine_floor: float = 0.80  # e5 sentence cosine that counts as no evidence at all ...
    cosine_span: float = 0.10  # ... and how far above it counts as full evidence
    margin_floor: float = 0.045  # non-Chinese questions: how much the best match must stand out
    margin_span: float = 0.025


def _maxnorm(x: np.ndarray) -> np.ndarray:
    top = float(x.max()) if x.size else 0.0
    return x / top if top > 0 else np.zeros_like(x)


@lru_cache(maxsize=4096)
def _substrings(seg: str) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """A segment's substrings of two or more characters, grouped by length, longest first."""
    return tuple((n, tuple({seg[i : i + n] for i in range(len(seg) - n + 1)})) for n in range(len(seg), 1, -1))


def _top(x: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values (unordered); linear time, so it scales to millions."""
    return np.argpartition(-x, k)[:k] if len(x) > k else np.arange(len(x))


def _rangenorm(x: np.ndarray) -> np.ndarray:
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


@dataclass
class _State:
    index: Index
    flat: np.ndarray | None  # passage vectors as one matrix, for exact search on small corpora
    normalized: dict[int, tuple[str, list[str]]]  # pid -> normalised passage and sentence texts


class Searcher:
    """Holds the index and model (loaded once); ``search`` is safe to call from several threads."""

    def __init__(self, index: Index, model, config: SearchConfig | None = None) -> None:
        self.model = model
        self.config = config or SearchConfig()
        self.swap_index(index)

    def swap_index(self, index: Index) -> None:
        """Replace the index in one assignment, so concurrent searches see old or new, never a mix."""
        flat = None
        if type(index.vectors).__name__ == "IndexFlatIP":  # small corpora: one matrix product beats FAISS calls
            flat = index.vectors.reconstruct_n(0, index.vectors.ntotal)
        self._state = _State(index, flat, {})

    @property
    def index(self) -> Index:
        return self._state.index

    @classmethod
    def open(cls, settings, log=print, progress: bool = False, rebuild: bool = True) -> Searcher:
        """Load the model once, rebuild the index first if it is missing or stale, load it."""
        from .embedding import load_model
        from .index import build_index, load_index, stale_reasons, verify_files

        with ThreadPoolExecutor(max_workers=1) as pool:  # the model loads while we check the index
            loading = pool.submit(load_model, settings.model, progress)
            reasons = stale_reasons(settings) or [f"damaged file {f}" for f in verify_files(settings.index)]
            if not reasons:
                index = load_index(settings.index, verify=False)
                index.tokenizer.warm_up()
            model = loading.result()
        if reasons and rebuild:
            log(f"Index needs rebuilding ({'; '.join(reasons[:3])}); building …")
            report = build_index(settings, model=model, progress=progress, log=log)
            log(f"Built {report.passages} passages from {report.documents} documents in {report.seconds:.1f} s")
            index = load_index(settings.index)
        elif reasons:
            index = load_index(settings.index)
        return cls(index, model)

    # -- public -----------------------------------------------------------------

    def search(self, question: str, top_k: int = 5) -> SearchResponse:
        return self.search_many([question], top_k)[0]

    def search_many(self, questions: list[str], top_k: int = 5, batch_size: int = 64,
                    on_progress: Callable[[int], None] | None = None) -> list[SearchResponse]:
        """Answer many questions; embeds the next chunk while searching this one (the model
        runs outside the GIL), so batches keep both cores busy."""
        queries = [clean_query(q) for q in questions]
        chunks = [list(range(k, min(k + batch_size, len(queries)))) for k in range(0, len(queries), batch_size)]

        def embed(chunk: list[int]) -> tuple[np.ndarray | None, float]:
            texts = [queries[i] for i in chunk if queries[i]]
            t = time.perf_counter()
            vecs = self.model.encode_queries(texts, batch_size=batch_size) if texts else None
            return vecs, (time.perf_counter() - t) / max(len(texts), 1)

        def answer(chunk: list[int], vecs: np.ndarray | None, t_embed: float) -> None:
            vec_rows = iter(vecs if vecs is not None else [])
            for i in chunk:
                if not queries[i]:
                    out.append(SearchResponse(questions[i], queries[i], False, []))
                    continue
                resp = self._search_one(questions[i], queries[i], next(vec_rows), top_k)
                resp.timings["embed"] = t_embed
                out.append(resp)
            if on_progress:
                on_progress(len(chunk))

        out: list[SearchResponse] = []
        if len(chunks) <= 1:  # a single question (the chat page): no thread to start
            for chunk in chunks:
                answer(chunk, *embed(chunk))
            return out
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(embed, chunks[0])
            for n, chunk in enumerate(chunks):
                vecs, t_embed = pending.result()
                if n + 1 < len(chunks):
                    pending = pool.submit(embed, chunks[n + 1])
                answer(chunk, vecs, t_embed)
        return out

    # -- internals --------------------------------------------------------------

    @staticmethod
    def _bm25(bm25, tokens: list[str], n: int) -> np.ndarray:
        ids = bm25.get_tokens_ids(tokens) if tokens else []
        if not ids:
            return np.zeros(n, dtype=np.float32)
        return np.asarray(bm25.get_scores_from_ids(ids), dtype=np.float32)

    def _search_one(self, question: str, query: str, qvec: np.ndarray, top_k: int) -> SearchResponse:
        cfg = self.config
        state = self._state
        index = state.index
        n = len(index.passages)
        t0 = time.perf_counter()
        tokens = index.tokenizer.tokens(query, normalized=True)
        lex_p = self._bm25(index.bm25, tokens, n)
        lex_s = self._bm25(index.bm25_sentences, tokens, len(index.sentence_owner))
        best_lex_s = np.zeros(n, dtype=np.float32)
        np.maximum.at(best_lex_s, index.sentence_owner, lex_s)
        share = cfg.sentence_share
        lexical = (1 - share) * _maxnorm(lex_p) + share * _maxnorm(best_lex_s)
        t1 = time.perf_counter()

        # candidates: the best passages of each retriever
        if state.flat is not None:
            dense_all = state.flat @ qvec
            dense_top = _top(dense_all, cfg.candidates)
        else:
            scores, ids = index.vectors.search(qvec[None, :], min(n, cfg.candidates))
            dense_top = ids[0][ids[0] >= 0]
        cand = np.union1d(_top(lexical, cfg.candidates), dense_top).astype(np.int64)
        dense_p = (state.flat[cand] if state.flat is not None
                   else np.stack([index.vectors.reconstruct(int(i)) for i in cand])) @ qvec
        # sentence-level dense scores, only for the candidates' sentences
        starts, ends = index.sentence_offsets[cand], index.sentence_offsets[cand + 1]
        rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
        sent_cos = index.sentence_vectors[rows] @ qvec
        bounds = np.concatenate([[0], np.cumsum(ends - starts)])
        best_dense_s = np.maximum.reduceat(sent_cos, bounds[:-1]) if len(rows) else np.zeros(len(cand))
        sentence_scores = {int(p): sent_cos[bounds[k]: bounds[k + 1]] for k, p in enumerate(cand)}
        t2 = time.perf_counter()

        dense = (1 - share) * dense_p + share * best_dense_s
        w = cfg.lexical_weight if lexical.max() > 0 else 0.0
        fused = w * lexical[cand] + (1 - w) * _rangenorm(dense)
        segments = self._content_segments(query, index)
        if segments:
            fused = fused + cfg.phrase_weight * np.array(
                [self._phrase_score(segments, self._normalized(state, i)[0]) for i in cand])
        subject = definition_subject(query, index.tokenizer)
        defines = {}
        if subject:
            defines = {int(i): [bool(_defines(subject, s)) for s in self._normalized(state, i)[1]] for i in cand}
            fused = fused + cfg.definition_weight * np.array([any(defines[int(i)]) for i in cand])
        if _SELF_REFERENCE.search(query):  # "why did the author write this report": the preamble says
            fused = fused + cfg.preamble_weight * np.array([not index.passages[i].section for i in cand])
        order = cand[np.argsort(-fused, kind="stable")]
        fused_by_id = dict(zip(cand.tolist(), fused.tolist()))

        results: list[Result] = []
        for i in order:
            p = index.passages[int(i)]
            if any(self._overlaps(p, r) for r in results):
                continue
            shown = [(r.citation.start, r.citation.end) for r in results if r.citation.source == p.source]
            lo, hi = int(index.sentence_offsets[i]), int(index.sentence_offsets[i + 1])
            span = self._answer_span(p, sentence_scores[int(i)], lex_s[lo:hi], defines.get(int(i)), shown)
            if span is None:
                continue  # everything in it is already on screen
            a_start, a_end = span
            results.append(Result(
                rank=len(results) + 1, score=float(fused_by_id[int(i)]), text=p.text,
                answer=p.text[a_start - p.start : a_end - p.start], answer_start=a_start, answer_end=a_end,
                citation=Citation(p.source, index.titles.get(p.source, p.title), p.section, p.paragraph,
                                  p.start, p.end),
                passage_id=p.id,
            ))
            if len(results) == top_k:
                break
        confidence = self._confidence(state, query, results, dense_p, sent_cos, sentence_scores)
        t3 = time.perf_counter()
        return SearchResponse(
            question, query, confidence >= cfg.min_confidence, results, confidence,
            {"bm25": t1 - t0, "dense": t2 - t1, "fusion": t3 - t2},
        )

    @staticmethod
    def _overlaps(p: Passage, r: Result) -> bool:
        """A passage mostly inside one already shown adds nothing (overlapping windows)."""
        c = r.citation
        if c.source != p.source:
            return False
        return min(c.end, p.end) - max(c.start, p.start) > 0.5 * (p.end - p.start)

    @staticmethod
    def _content_segments(query: str, index: Index) -> list[str]:
        """Runs of the query between stop-words and punctuation ("四个中心是哪四个" → 四个中心, 四个)."""
        segments, current = [], ""
        for tok in index.tokenizer.words(query):
            if index.tokenizer.is_content(tok):
                current += tok
            else:
                if len(current) >= 2:
                    segments.append(current)
                current = ""
        if len(current) >= 2:
            segments.append(current)
        return segments

    @staticmethod
    def _phrase_score(segments: list[str], text: str) -> float:
        """Share of the query's content found as contiguous phrases (longest match per segment)."""
        got = total = 0
        for seg in segments:
            total += len(seg) ** 2
            for length, pieces in _substrings(seg):
                if any(map(text.__contains__, pieces)):
                    got += length**2
                    break
        return got / total if total else 0.0

    @staticmethod
    def _normalized(state: _State, pid: int) -> tuple[str, list[str]]:
        """Normalised passage and sentence texts, cached (the same passages recur across queries)."""
        cache = state.normalized
        if pid not in cache:
            if len(cache) > 50_000:
                cache.clear()
            p = state.index.passages[pid]
            cache[pid] = (normalize(p.text), [normalize(s) for s in p.sentence_texts()])
        return cache[pid]

    def _answer_span(self, p: Passage, sent_cos: np.ndarray, sent_lex: np.ndarray,
                     defines: list[bool] | None = None,
                     shown: list[tuple[int, int]] = ()) -> tuple[int, int] | None:
        """The best sentence; a short lead sentence ("四是加强行政效能建设。") is extended by the
        sentences that elaborate it, since reports state a topic and then the facts."""
        cfg = self.config
        d = _rangenorm(sent_cos) if len(sent_cos) > 1 else np.ones(1)
        score = (1 - cfg.answer_lexical) * d + cfg.answer_lexical * _maxnorm(sent_lex)
        if defines:
            score = score + cfg.definition_weight * np.array(defines, dtype=float)
        spans = p.sentences
        seen = np.array([any(a <= s and e <= b for a, b in shown) for s, e in spans])
        if seen.all():
            return None
        score = np.where(seen, -np.inf, score)  # never repeat an answer a higher result shows
        best = int(np.argmax(score))
        start, end = spans[best]
        # a neighbour that scores nearly as well belongs to the answer too
        for k in (best - 1, best + 1):
            if 0 <= k < len(spans) and not seen[k] and score[k] >= cfg.neighbour_share * score[best]:
                s, e = min(start, spans[k][0]), max(end, spans[k][1])
                if e - s <= cfg.answer_chars:
                    start, end = s, e
        nxt = int(np.searchsorted([sp[0] for sp in spans], end))
        while nxt < len(spans) and (end - start < cfg.lead_chars or p.text[end - 1 - p.start] in ":："):
            if spans[nxt][1] - start > cfg.answer_chars:
                break
            end = spans[nxt][1]
            nxt += 1
        return start, end

    def _confidence(self, state: _State, query: str, results: list[Result], dense_p: np.ndarray,
                    sent_cos: np.ndarray, sentence_scores: dict[int, np.ndarray]) -> float:
        """How sure we are that the first result answers, in [0, 1].

        Chinese questions: the IDF-weighted share of the question's content words found in the
        passage, plus how close the best sentence is (e5 cosines of related Chinese text sit
        around 0.80-0.95); a "how many X" question whose X is absent, or a "when" question
        whose answer holds no date, is not answered.
        Other languages have no lexical overlap with the report, so only the dense match counts:
        how far the best passage and sentence stand out from the rest.
        """
        if not results:
            return 0.0
        cfg = self.config
        index = state.index
        top = results[0].passage_id
        best_sentence = float(sentence_scores[top].max())
        if not _CJK.search(query):
            stand_out = float(dense_p.max() - dense_p.mean()) + float(sent_cos.max() - sent_cos.mean())
            return _clip((stand_out - cfg.margin_floor) / cfg.margin_span)
        text = self._normalized(state, top)[0]
        words = list(dict.fromkeys(w for w in index.tokenizer.words(query)
                                   if index.tokenizer.is_content(w) and len(w) >= 2))
        weights = [self._idf(index, w) for w in words]
        coverage = sum(wt for w, wt in zip(words, weights) if w in text) / sum(weights) if words else 0.0
        closeness = _clip((best_sentence - cfg.cosine_floor) / cfg.cosine_span)
        confidence = 0.5 * coverage + 0.5 * closeness
        focus = quantity_focus(query, index.tokenizer)
        if focus and focus not in text:
            confidence = min(confidence, 0.2)
        if _WHEN.search(query) and not _TIME.search(results[0].answer):  # "when" needs a date in the answer
            confidence = min(confidence, 0.2)
        return confidence

    @staticmethod
    def _idf(index: Index, word: str) -> float:
        n = len(index.passages)
        vocab = index.bm25.vocab_dict
        indptr = index.bm25.scores["indptr"]
        df = int(indptr[vocab[word] + 1] - indptr[vocab[word]]) if word in vocab else 0
        return math.log(1 + (n - df + 0.5) / (df + 0.5))


_SELF_REFERENCE = re.compile(r"作者|笔者|本文|本报告|这份报告|这篇报告|该报告|这篇文章|本篇|全文|"
                             r"\b(?:the )?author\b|\bthis (?:report|document|article)\b")
_CJK = re.compile(r"[\u3400-\u9fff]")
_QUANTITY = re.compile(r"多少|几|多大")
_WHEN = re.compile(r"什么时候|什么时间|哪一年|哪年|哪天|哪一天|何时|几月|几号|\bwhen\b")
_TIME = re.compile(r"\d{1,4}\s*[年月日]|[一二三四五六七八九十〇零]{1,4}[年月日]|今年|去年|前年|明年|年底|年初|世纪")
_AMOUNT_VERBS = frozenset("达到 达成 共有 一共 总共 共计 合计 总计 大约 约为 约有 超过 不到 需要 需".split())


_DEFINITION_ASK = re.compile(
    r"^(.+?)(?:到底|究竟)?(?:是什么|是啥|指的?是什么|指什么|是什么意思|什么意思|"
    r"的含义是什么|的含义|的定义是什么|的定义|的意思是什么|的意思)[?？。!！\s]*$"
)
_DEFINITION_ASK_EN = re.compile(r"^what (?:is|are|does) (.+?)(?: mean)?[?？.\s]*$")


def definition_subject(query: str, tokenizer) -> str | None:
    """The term a definition question asks about: “管办评 是什么” → 管办评 (longest content word)."""
    m = _DEFINITION_ASK.match(query.strip()) or _DEFINITION_ASK_EN.match(query.strip())
    if not m:
        return None
    words = [w for w in tokenizer.words(m.group(1)) if tokenizer.is_content(w) and len(w) >= 2]
    return max(words, key=len) if words else None


def _defines(term: str, sentence: str) -> bool:
    """Does the sentence define ``term``: “term…是/就是/指/即/:…” soon after it, or “即/所谓 term”?"""
    at = sentence.find(term)
    if at < 0:
        return False
    after = sentence[at + len(term) : at + len(term) + 12]
    before = sentence[max(0, at - 3) : at]
    return bool(re.search(r"是|指|即|:|：", after)) or bool(re.search(r"即|所谓|称为|叫做", before))


def _clip(x: float) -> float:
    return min(max(x, 0.0), 1.0)


def quantity_focus(query: str, tokenizer) -> str | None:
    """What a "how many/how big" question counts: 有多少所大学 → 大学, 面积有多大 → 面积.

    The word after the question word (past a one-character measure word), else the last
    content word before it. A report that never names it cannot answer the question.
    """
    m = _QUANTITY.search(query)
    if not m:
        return None
    after = [w for w in tokenizer.words(query[m.end():]) if tokenizer.is_content(w)]
    after = [w for w in after[:2] if len(w) >= 2]
    if after:
        return after[0]
    before = [w for w in tokenizer.words(query[: m.start()])
              if tokenizer.is_content(w) and len(w) >= 2 and w not in _AMOUNT_VERBS]
    return before[-1] if before else None
