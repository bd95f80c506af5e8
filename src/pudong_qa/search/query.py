"""Understanding a question before searching: cleaning it, and what kind of answer it wants.

``analyze`` turns a raw question into a ``Question``: the normalised query, its BM25 tokens,
its content phrases, and the few things the ranking and the confidence check care about
(a definition's subject, a "how many X" focus, a "when", a question about the document itself).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import Problem
from ..tokenize import MIN_WORD_CHARS, Tokenizer, normalize
from .synonyms import Expansion

MAX_QUERY_CHARS = 512  # longer questions are answered from this prefix
DEFINITION_AFTER_CHARS = 12  # "X…是/指/即…" must follow the term within this many characters
DEFINITION_BEFORE_CHARS = 3  # "即/所谓 X" must precede it within this many
QUANTITY_LOOKAHEAD = 2  # words after 多少/几 (past measure words) that may name what is counted
MAX_ROLE_CHARS = 6  # "X的负责人是谁": a longer tail after 的 is a clause, not a role
MIN_TITLE_CHARS, MAX_TITLE_CHARS = 2, 64  # a document title a question may name (one character is too common)

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[^\W_]")  # a letter, digit or CJK character
_CJK = re.compile(r"[\u3400-\u9fff]")
_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff]) (?=[\u3400-\u9fff])")
_SELF_REFERENCE = re.compile(r"作者|笔者|本文|本报告|这份报告|这篇报告|该报告|这篇文章|本篇|全文|"
                             r"\b(?:the )?author\b|\bthis (?:report|document|article)\b")
_QUANTITY = re.compile(r"多少|(?<![哪好])几(?!乎)|多大")  # 哪几种 asks which, 好几 is "several", 几乎 "almost"
_WHEN = re.compile(r"(?:[西公]元|民国)几年|何年|什么时候|什么时间|哪一年|哪年|哪天|哪一天|何时|几月|几号|\bwhen\b")
_TIME = re.compile(r"\d{1,4}\s*[年月日时]|[一二三四五六七八九十〇零]{1,4}[年月日]|今年|去年|前年|明年|"
                   r"年底|年初|世纪|年代|时期|季|[早晚]期|初期|末期|当日|当天|正午|[上下]午|凌晨|"
                   r"[早晚]上|平日|每[天日年月周]|周[一二三四五六日末]|星期|朝|\d{3,4}|"
                   r"年间|[同当次翌]年|[夏商周秦汉晋隋唐宋元明清]代|[汉唐宋元明清][初末]|[东西南北前后][汉晋宋齐魏周]|"
                   r"战国|春秋|三国|五代|民国")  # reigns and dynasties date events too (康熙年间, 始建于南宋)
# What kind of thing a factoid question asks for, and how a sentence shows it holds one.
_ASKS_NUMBER = re.compile(r"多少|(?<!哪)几[个名家位座条所项次年岁种十百千万]|多大|多长|多高|多重|多远|多久|"
                          r"比例|百分之|第几|排名")
_ASKS_PERSON = re.compile(r"谁|哪位|哪一位|什么人|何人")
_ASKS_PLACE = re.compile(r"哪里|哪儿|哪个(?:国家|城市|省|地区|地方)|什么地方|何处|何地|在哪")
_NUMBER = re.compile(r"\d|[一二三四五六七八九十百千万亿两半][余多]?[个名家位座条所项次岁种人万亿元米倍%％]")
# Words that name the form of an amount or the question itself, never what is counted.
_RATIO_WORDS = "比例 百分之 百分比 比率 比重 占比".split()  # a ratio is asked; the answer shows "23%"
_RATIO_ASK = re.compile("|".join(_RATIO_WORDS))
_NOT_FOCUS = frozenset(_RATIO_WORDS + "时候 事情 时间".split())
_NUMERAL_FLAGS = ("m", "q", "mq")  # jieba: numerals and measure words (个, 所)
_AMOUNT_VERBS = frozenset("达到 达成 共有 一共 总共 共计 合计 总计 大约 约为 约有 超过 不到 需要 需".split())
_NOT_FOCUS_BEFORE = _NOT_FOCUS | _AMOUNT_VERBS  # before 多少: neither of these names what is counted
_DEFINITION_ASK = re.compile(
    r"^(.+?)(?:到底|究竟)?(?:是什么|是啥|指的?是什么|指什么|是什么意思|什么意思|"
    r"的含义是什么|的含义|的定义是什么|的定义|的意思是什么|的意思)[?？。!！\s]*$"
)
_DEFINITION_ASK_EN = re.compile(r"^what (?:is|are|does) (.+?)(?: mean)?[?？.\s]*$")
_DEFINES_AFTER = re.compile(r"是|指|即|:|：")
_DEFINES_BEFORE = re.compile(r"即|所谓|称为|叫做")
_WHO_IS = re.compile(r"^(.+?)(?:到底|究竟|有可能|可能|应该)?"
                     r"(?:是谁|叫什么名字|是哪位|是哪一位|是何人|是什么人)[?？。!！\s]*$")
_WHO_IS_FIRST = re.compile(r"^(?:请问)?谁是(.+?)[?？。!！\s]*$")  # "谁是X": the same question, the other way round
_ASPECT_LEAD = re.compile(r"^[\s的之,，、:：]+")
# Where the thing asked after 的 ends: "浦东新区的人均gdp是多少" → 人均gdp
_ATTRIBUTE_END = re.compile(r"是多少|是什么|是哪|是谁|是几|有多少|有多大|有多|有几|多少|多大|几|为多少|在哪|叫什么|"
                            r"[?？。!！]")
_PUNCTUATION = re.compile(r"[^\w]")
_QUESTION_WORD = re.compile(r"什么|多少|几|谁|哪|吗|怎|如何|为何|为什么|是否|呢|能不能|是不是|有没有|[?？]")
MAX_ATTRIBUTE_CHARS = 8  # a longer tail after 的 is a clause, not the thing asked


def clean_query(question: str) -> str:
    """Normalise a raw question: width/script/case folding, no control chars, bounded length.

    Only a prefix of a very long question is read, so the cost of a question is bounded.
    A question with no letter, digit or CJK character (punctuation, emoji) becomes "".
    """
    q = "".join(ch if ch.isprintable() else " " for ch in question[: MAX_QUERY_CHARS * 2])
    q = _SPACE.sub(" ", normalize(q)).strip()
    q = _CJK_GAP.sub("", q)[:MAX_QUERY_CHARS]  # "浦东新区  下辖" = "浦东新区下辖": Chinese does not space words
    return q if _WORD.search(q) else ""


@dataclass(frozen=True)
class Titles:
    """The (normalised) titles of an index's documents, to find those a question names."""

    names: frozenset[str]
    longest: int

    @classmethod
    def of(cls, titles: Iterable[str]) -> Titles:
        names = frozenset(t for t in titles if MIN_TITLE_CHARS <= len(t) <= MAX_TITLE_CHARS)
        return cls(names, max(map(len, names), default=0))

    def named_in(self, query: str) -> list[str]:
        """The titles found in the (normalised) query, longest first: every substring is looked up,
        so the cost grows with the question, not with the number of documents."""
        found = {query[i:j] for i in range(len(query))
                 for j in range(i + MIN_TITLE_CHARS, min(len(query), i + self.longest) + 1) if query[i:j] in self.names}
        return sorted(found, key=len, reverse=True)


def aspect(query: str, named: list[str]) -> str | None:
    """What a question asks about the articles it names: the query without their titles
    ("黄蝉的花是什么样子" → "花是什么样子"), or None when it names none. An article's subject is in
    most of its sentences, so it makes the lead sentence look closest to any question about it in
    the dense score; what is asked besides it tells the sentences apart."""
    if not named:
        return None
    for t in named:
        query = query.replace(t, " ")
    return _ASPECT_LEAD.sub("", _SPACE.sub(" ", query)).strip() or None


def question_problem(question: str) -> Problem | None:
    """Why a question cannot be searched at all, or None if it can."""
    if not question.strip():
        return Problem("empty_question")
    if not clean_query(question):
        return Problem("no_words")
    return None


def content_segments(query: str, tokenizer: Tokenizer) -> list[str]:
    """Runs of the query between stop-words and punctuation ("四个中心是哪四个" → 四个中心, 四个)."""
    segments, current = [], ""
    for tok in tokenizer.words(query):
        if tokenizer.is_content(tok):
            current += tok
        else:
            if len(current) >= 2:
                segments.append(current)
            current = ""
    if len(current) >= 2:
        segments.append(current)
    return segments


def definition_subject(query: str, tokenizer: Tokenizer) -> str | None:
    """The term a definition question asks about: “管办评 是什么” → 管办评 (longest content word)."""
    m = _DEFINITION_ASK.match(query.strip()) or _DEFINITION_ASK_EN.match(query.strip())
    if not m:
        return None
    words = tokenizer.content_words(m.group(1))
    return max(words, key=len) if words else None


def defines(term: str, sentence: str) -> bool:
    """Does the sentence define ``term``: “term…是/就是/指/即/:…” soon after it, or “即/所谓 term”?"""
    at = sentence.find(term)
    if at < 0:
        return False
    after = sentence[at + len(term) : at + len(term) + DEFINITION_AFTER_CHARS]
    before = sentence[max(0, at - DEFINITION_BEFORE_CHARS) : at]
    return bool(_DEFINES_AFTER.search(after)) or bool(_DEFINES_BEFORE.search(before))


def quantity_focus(query: str, tokenizer: Tokenizer) -> str | None:
    """What a "how many/how big" question counts: 有多少所大学 → 大学, 面积有多大 → 面积.

    The first noun after the question word (past a measure word), else the last noun before it
    (中心的电话是多少 → 电话). A corpus that never names it cannot answer the question. Not a
    focus: the question word inside a time question (西元几年, 几月), a ratio's own word (多少比例,
    百分之多少: the answer shows "23%"), and nouns before an ordinal (第几) or a measure word
    (享年几岁): the measure word itself is checked (``count_unit``).
    """
    query = _WHEN.sub("，", query)
    m = _QUANTITY.search(query)
    if not m:
        return None
    tagged = list(tokenizer.tagged(query[m.end():]))
    unit = _COUNT_ASK.match(query, m.start())
    if unit and tagged and tagged[0][0] == unit.group(1):  # 几条地铁线路: jieba cuts "几条" as one
        tagged = tagged[1:]  # numeral, and the 条 left after 几 is tagged a noun
    after = [(w, f) for w, f in tagged if tokenizer.is_content(w) and f not in _NUMERAL_FLAGS][:QUANTITY_LOOKAHEAD]
    nouns = [w for w, f in after if tokenizer.is_noun(f) and w not in _NOT_FOCUS]
    if nouns:
        return nouns[0]
    if count_unit(query) or query[m.start() - 1 : m.start()] == "第":
        return None
    before = [w for w, f in tokenizer.tagged(query[: m.start()])
              if tokenizer.is_noun(f) and tokenizer.is_content(w) and len(w) >= MIN_WORD_CHARS
              and w not in _NOT_FOCUS_BEFORE]
    return before[-1] if before else None


def asked_role(query: str, tokenizer: Tokenizer) -> str | None:
    """The role a "who is the X" question names: 曹路镇的镇长叫什么名字 → 镇长, 中心的负责人是谁 → 负责人.
    A passage that never names the role does not say who holds it, however close it is."""
    m = _WHO_IS.match(query.strip()) or _WHO_IS_FIRST.match(query.strip())
    if not m:
        return None
    named = m.group(1)
    if "的" in named:  # the role follows the last 的 (jieba tags 镇长 a verb, cuts 制作人 in two)
        role = named.rsplit("的", 1)[1]
        return role if MIN_WORD_CHARS <= len(role) <= MAX_ROLE_CHARS else None
    words = [w for w in tokenizer.content_words(named) if len(w) >= MIN_WORD_CHARS]
    return words[-1] if words else None


def asked_attribute(query: str, tokenizer: Tokenizer) -> str | None:
    """The thing a factoid question asks about its subject, named after the last 的: 浦东新区的人均gdp
    → 人均gdp, 中心的电话是多少 → 电话, 协议的期限是几年 → 期限. Only when the question asks for a
    number, a time, a person or a place, or is a bare phrase (no question word), and the thing is
    a run of nouns other than a ratio's own word (比重: the answer shows "23%"). A passage about
    the subject that never names it does not state what is asked (a near miss), however close."""
    if ("的" not in query or _DEFINITION_ASK.match(query)
            or not (answer_kind(query) or not _QUESTION_WORD.search(query))):
        return None
    tail = query.rsplit("的", 1)[1]
    m = _ATTRIBUTE_END.search(tail)
    tail = tail[: m.start()] if m else tail
    if not MIN_WORD_CHARS <= len(tail) <= MAX_ATTRIBUTE_CHARS or _PUNCTUATION.search(tail):
        return None
    tagged = tokenizer.tagged(tail)
    nouns = [tokenizer.is_noun(f) or f == "j" for _, f in tagged]  # j: an abbreviation (人均, 社保)
    if not tagged or not all(nouns) or any(w in _NOT_FOCUS for w, _ in tagged):
        return None
    return tail


def answer_kind(query: str) -> str | None:
    """The kind of thing a factoid question asks for: "time", "number", "person", "place" or None."""
    if _WHEN.search(query):
        return "time"
    if _ASKS_NUMBER.search(query):
        return "number"
    if _ASKS_PERSON.search(query):
        return "person"
    if _ASKS_PLACE.search(query):
        return "place"
    return None


def mentions_number(text: str) -> bool:
    """Does the text hold a number or a counted amount ("569平方公里", "三个月")?"""
    return bool(_NUMBER.search(text))


_MEASURE = "个名家位座条所项次种只件本台辆栋间处届岁"
_COUNT_ASK = re.compile(rf"(?:多少|(?<!哪)几)([{_MEASURE}])")
_NUMERAL = r"(?:\d[\d.,]*|[一二三四五六七八九十百千万亿两〇零]+)"
_YEAR = re.compile(r"(?<!\d)(1\d{3}|20\d{2})(?=年)")  # not "2000多年", a span of time
_CHINESE_DIGITS = tuple(str.maketrans("0123456789", zero + "一二三四五六七八九") for zero in "〇零")
_RATIO = re.compile(r"\d\s*[%％]|百分之|[一二三四五六七八九十]成")


def count_unit(query: str) -> str | None:
    """The measure word a "how many" question counts in: 有多少家医院 → 家, 几个新市镇 → 个."""
    m = _COUNT_ASK.search(query)
    return m.group(1) if m else None


def asked_measure(query: str, tokenizer: Tokenizer) -> str | None:
    """The unit an amount is asked in, when it is a unit of measure and not a classifier:
    多少厘米 → 厘米, 多少个小时 → 小时, 多少比例 → %; 多少所大学 → None (所 counts 大学, whose
    absence still matters). An answer stating an amount in that unit answers the question
    whatever it calls the quantity (长度约是多少厘米 / "长约15至20厘米")."""
    if _RATIO_ASK.search(query):
        return "%"
    m = _QUANTITY.search(query)
    if not m or m.group() == "多大":
        return None
    rest = query[m.end():]
    rest = rest[1:] if rest[:1] == "个" else rest
    tagged = tokenizer.tagged(rest)
    if not tagged or tagged[0][0][:1] in _MEASURE or not _WORD.match(tagged[0][0]):
        return None
    return tagged[0][0]


def states(text: str, measure: str) -> bool:
    """Does the text state an amount in ``measure`` (asked_measure): "20厘米", "2.1%"?"""
    return bool(_RATIO.search(text)) if measure == "%" else counts(text, measure)


def years(text: str) -> tuple[str, ...]:
    """The years a text names in digits before 年 ("2010年的生产总值" → 2010; not "2000多年")."""
    return tuple(dict.fromkeys(_YEAR.findall(text)))


def names_year(text: str, year: str) -> bool:
    """Is ``year`` in the text, in digits or in Chinese (二〇〇五 / 二零零五)?"""
    return year in text or any(year.translate(t) in text for t in _CHINESE_DIGITS)


def counts(text: str, unit: str) -> bool:
    """Does the text count something in ``unit`` ("500多家", "四个")?"""
    return bool(re.search(rf"{_NUMERAL}\s*(?:[多余])?\s*{re.escape(unit)}", text))


def mentions_time(text: str) -> bool:
    """Does the text hold a date or a year ("2005年底", "去年")?"""
    return bool(_TIME.search(text))


@dataclass(frozen=True)
class Question:
    """A question as the search stages see it; computed once per question."""

    text: str  # as asked
    query: str  # cleaned and normalised: what is searched
    tokens: tuple[str, ...]  # BM25 tokens
    segments: tuple[str, ...]  # content phrases, for the verbatim-phrase bonus
    words: tuple[str, ...]  # distinct content words, for the confidence check
    subject: str | None  # "X 是什么" → X
    quantity: str | None  # "有多少所大学" → 大学
    unit: str | None  # "有多少所大学" → 所 (count_unit)
    measure: str | None  # "长度是多少厘米" → 厘米 (asked_measure)
    role: str | None  # "中心的负责人是谁" → 负责人 (asked_role)
    years: tuple[str, ...]  # "2010年的生产总值" → ("2010",); none when the year is what is asked
    asks_when: bool
    kind: str | None  # what the answer must hold: "time", "number", "person", "place" (answer_kind)
    about_document: bool  # "why did the author write this report"
    chinese: bool
    attribute: str | None = None  # "浦东新区的人均gdp是多少" → 人均gdp (asked_attribute)
    expansions: tuple[Expansion, ...] = ()  # other words for what it names (synonyms.Synonyms.expand)
    others: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)  # content word → other words for it
    expanded_tokens: tuple[str, ...] = ()  # BM25 tokens of the other words, searched at a lower weight


def asks(word: str) -> bool:
    """Is the word a question word ("几年", "多少"), not something a passage could say?"""
    return bool(_QUESTION_WORD.search(word))


def other_words(words: Iterable[str], expansions: Iterable[Expansion]) -> dict[str, tuple[str, ...]]:
    """Each content word's other words: those of the expansions it is part of or contains
    (人均 and gdp of "人均gdp" both count as said by a passage that says 人均生产总值)."""
    out = {}
    for w in words:
        alts = [o for e in expansions if w in e.word or e.word in w for o in e.others]
        if alts:
            out[w] = tuple(dict.fromkeys(alts))
    return out


def analyze(text: str, query: str, tokenizer: Tokenizer, expansions: tuple[Expansion, ...] = ()) -> Question:
    """``expansions``: other words for what the query names (``Synonyms.expand``), if any."""
    asks_when = bool(_WHEN.search(query))
    attribute = asked_attribute(query, tokenizer)
    words = tuple(dict.fromkeys(tokenizer.content_words(query)))
    tokens = tuple(tokenizer.tokens(query, normalized=True))
    own = set(tokens)
    expanded = [t for e in expansions for o in e.others for t in tokenizer.tokens(o, normalized=True) if t not in own]
    return Question(
        text=text, query=query,
        tokens=tokens,
        segments=tuple(content_segments(query, tokenizer)),
        words=words,
        subject=definition_subject(query, tokenizer),
        quantity=quantity_focus(query, tokenizer),
        unit=count_unit(query),
        measure=asked_measure(query, tokenizer),
        role=asked_role(query, tokenizer),
        years=() if asks_when else years(query),
        asks_when=asks_when,
        kind=answer_kind(query),
        about_document=bool(_SELF_REFERENCE.search(query)),
        chinese=bool(_CJK.search(query)),
        attribute=attribute,
        expansions=expansions,
        others=other_words(words + ((attribute,) if attribute else ()), expansions),
        expanded_tokens=tuple(dict.fromkeys(expanded)),
    )
