"""The grammar of the answer sentence's words, around its slots.

One sentence: a ramble past the first full stop states what no step
established. Letters (Latin, accented too) and light punctuation only, no
digits of its own ("= 40000", "⅛ km"): a number in an answer is a step's
value or one the question gave. Words have one space between them and
there are at most `ANSWER_WORDS` between two slots: a small model that loses
its way in the answer line drifts into runs of spaces ("opened in
{$1}", a token each) or repeats a phrase ("The answer is The answer is
...") until the token limit — on the railway suite, lines of 350 characters
and 160 tokens, a third of a question's time.
"""

from __future__ import annotations

WORD_CHARS = "[a-zA-Z\\u00C0-\\u024F,;:'()%&/-]"
ANSWER_WORDS = 12
"""Most words between two slots (the longest part of an example sentence,
"The country whose capital is Nairobi is in", has eight); a question's own
number written among them may be followed by half as many again."""


def answer_text_rules(question_numbers: bool) -> list[str]:
    """GBNF rules `word` and `text`; `text` may hold one of the question's numbers
    (rule `num`) when the question gives any."""
    text = f'text ::= " "? (word (" " word){{0,{ANSWER_WORDS - 1}}} " "?)?'
    if question_numbers:  # "15%", "3rd", "(3)," then up to half as many words again
        text += f' (num {WORD_CHARS}{{0,3}} (" " word){{0,{ANSWER_WORDS // 2}}} " "?)?'
    return [f"word ::= {WORD_CHARS}{{1,24}}", text]


__all__ = ["ANSWER_WORDS", "answer_text_rules"]
