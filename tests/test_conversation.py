import pytest

from pudong_qa.search.conversation import contextualize, is_follow_up
from pudong_qa.tokenize import Tokenizer

TOK = Tokenizer()


@pytest.mark.parametrize("q", ["它最早在哪所学校试点?", "这个机制有什么作用", "那人口呢?", "为什么?",
                               "It started where?"])
def test_follow_ups(q):
    assert is_follow_up(q, TOK)


@pytest.mark.parametrize("q", ["东沟中学", "浦东新区的面积有多大", "政府购买服务是什么", "", "医疗联合体怎么运作"])
def test_standalone_questions(q):
    assert not is_follow_up(q, TOK)


def test_pronoun_is_replaced_by_previous_topic():
    assert contextualize("它最早在哪所学校试点?", ["管办评 是什么"], TOK) == "管办评 最早在哪所学校试点?"


def test_elliptical_question_gets_topic_words():
    q = contextualize("人口呢?", ["浦东新区的面积有多大"], TOK)
    assert q.startswith("浦东新区") and q.endswith("人口呢?")


def test_chain_of_follow_ups_keeps_original_topic():
    history = ["医疗联合体怎么运作", "它是哪年成立的?"]
    assert contextualize("它有什么效果?", history, TOK).startswith("医疗联合体")


def test_no_history_or_standalone_question_is_unchanged():
    assert contextualize("它最早在哪所学校试点?", [], TOK) == "它最早在哪所学校试点?"
    assert contextualize("东沟中学", ["管办评 是什么"], TOK) == "东沟中学"


def test_follow_up_carries_whole_terms():
    """“功能区域” is two words to jieba; the follow-up carries the term whole, never “功能” alone."""
    assert contextualize("它的核心是什么", ["浦东新区有几个功能区域"], TOK) == "浦东新区 功能区域 的核心是什么"
    assert contextualize("它是什么时候组建的?", ["医疗联合体怎么运作"], TOK) == "医疗联合体 是什么时候组建的?"
