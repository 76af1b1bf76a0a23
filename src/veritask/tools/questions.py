"""`Question`: the parameter type of a tool that reads a question and answers in words.

Why a type and not a convention on the name: a reader tool (a knowledge-base
answerer, a help desk, an FAQ search) needs the user's question as asked, not a
topic cut from it. A small planner writes ``kb_answer("pass statement")`` for
"What does the pass statement do when it is executed?"; a topic names what to
search but asks nothing, so no sentence can be chosen as *the answer*. Declaring
the parameter as ``Question`` tells the planner two things for any toolkit: the
argument is rewritten to the question as asked when the model wrote only a topic
of it, and the tool's text result is an answer in words, so the checks that ask
"which field did the question name?" do not apply to it.

It is a plain ``str`` at run time (``NewType``): a tool receives a string.
"""

from __future__ import annotations

from typing import NewType

from veritask.embedding.lexical import tokens

Question = NewType("Question", str)
"""A question in plain words, as the user asked it (see the module doc)."""

EXTRA_STOP = frozenset(
    "do doe did mean tell say said explain describ document kind type use us can "
    "should would could there this that".split()
)
"""Question scaffolding that names no content ("What does X *do*?", "*Tell* me …")."""

_ASKING = frozenset(
    "what which who whom whose when where why how is are was were do does did can could "
    "should would will may must has have".split()
)


def question_terms(question: str) -> list[str]:
    """The question's content stems (stop words and question scaffolding removed)."""
    return list(dict.fromkeys(t for t in tokens(question) if t not in EXTRA_STOP and len(t) > 1))


def asked_question(arg: str, goal: str, *, whole: bool = False) -> str:
    """The question a reader should read: ``arg``, or ``goal`` when ``arg`` is only a topic
    cut from it.

    When ``arg`` is not a question (no question mark, no asking word first) and every
    content word of it is in ``goal``, the goal is what was asked; an ``arg`` with no
    content word at all (a small model wrote the question's first word, "Can") asks
    nothing, so the goal is read too. A question the plan
    wrote itself (a part of a compound goal) is kept as written, unless ``whole``: the
    plan has one reader step, so that step answers the whole goal, and a question it
    narrowed to a part of the goal ("What is the pass statement?" for "What does the
    pass statement do when executed?") is read as the goal itself.
    """
    text = arg.strip()
    if not goal.strip() or text == goal.strip():
        return arg
    words = set(question_terms(text))
    if not words:
        return goal  # nothing to read: an empty argument or a stop word ("Can")
    if not words <= set(question_terms(goal)):
        return arg
    if whole:
        return goal
    first = text.split()[0].lower().strip("\"'(")
    if text.endswith("?") or first in _ASKING:
        return arg
    return goal


__all__ = ["EXTRA_STOP", "Question", "asked_question", "question_terms"]
