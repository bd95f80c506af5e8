"""Reasons travel as codes; every code the package uses has both sentences, with the same fields."""

import ast
import re
import string
from pathlib import Path

import pytest

from pudong_qa.errors import CorpusError, Problem, PudongQAError
from pudong_qa.messages import MESSAGES, language, say

SRC = Path(__file__).resolve().parents[1] / "src" / "pudong_qa"


def used_codes() -> set[str]:
    """Codes given as ``code="…"`` or as the first argument of ``Problem(…)`` anywhere in the package."""
    codes = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            for kw in node.keywords:
                if kw.arg == "code" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                    codes.add(kw.value.value)
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name == "Problem" and node.args and isinstance(node.args[0], ast.Constant):
                codes.add(node.args[0].value)
    return codes


def test_every_code_used_has_its_sentences():
    codes = used_codes()
    assert len(codes) > 20  # the scan found the package's codes
    assert codes - MESSAGES.keys() == set()


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_both_languages_take_the_same_fields(code):
    en, zh = MESSAGES[code]
    fields = [{f for _, f, _, _ in string.Formatter().parse(t) if f} for t in (en, zh)]
    assert fields[1] <= fields[0], code  # the Chinese may leave a detail out, never ask for a new one
    assert re.search(r"[\u4e00-\u9fff]", zh), code


def test_an_error_is_data_and_says_itself_in_both_languages():
    exc = CorpusError(code="too_big", subject="a.txt", size_mb=12.34, limit_mb=10)
    assert exc.code == "too_big" and exc.problem.params["limit_mb"] == 10
    assert str(exc).startswith("a.txt: 12.3 MiB is over the 10 MiB limit")
    assert exc.say("zh") == "a.txt: 文件有 12.3 MB,超过了 10 MB 的上限"
    assert exc.reason("zh") == "文件有 12.3 MB,超过了 10 MB 的上限"
    assert str(PudongQAError("a plain remedy")) == "a plain remedy" and PudongQAError("x").code == ""
    assert str(Problem("empty_question")) == "empty question" and say("empty_question", lang="zh") == "空问题"


def test_language_from_accept_language():
    assert language(None) == "zh" and language("") == "zh"
    assert language("en-US,en;q=0.9") == "en" and language("zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert language("fr-FR, en;q=0.5") == "en"
