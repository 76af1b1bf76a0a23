"""The reader picks the sentence that answers, not the one that names the subject, and
its confidence drops when the choice is a close call."""

from __future__ import annotations

from veritask.memory.kb import Passage
from veritask.memory.kb_answer import answer_from
from veritask.memory.kb_reader import asked_kind, candidates, model_choice, rank, read
from veritask.models import ScriptedModel
from veritask.tools.questions import asked_question

STARTER = (
    "Sourdough starter\n\n"
    "Sourdough starter is a live culture of rye flour and water kept in the cool room. "
    "Sourdough starter is fed twice a day, at 5:00 and at 17:00, with equal weights of "
    "flour and water. A starter that smells of acetone is hungry."
)


def _passage(text: str, chunk_id: int = 1, source: str = "manual.txt") -> Passage:
    heading = text.split("\n", 1)[0]
    return Passage(chunk_id, source, heading, 100, 100 + len(text), text, 1.0)


def test_reader_picks_the_sentence_that_answers_not_the_one_that_names_the_subject() -> None:
    # Every sentence is about the starter; only one says how often it is fed. A reader
    # that ranked by topic words alone would quote the first, which restates the subject.
    reading = read("How often is the sourdough starter fed?", [_passage(STARTER)])
    assert reading.chosen is not None
    assert reading.chosen.text.startswith("Sourdough starter is fed twice a day")
    assert reading.chosen.text.endswith("equal weights of flour and water.")
    assert reading.margin > 0.1 and reading.stability == 1.0


def test_the_rare_question_word_outweighs_the_subject_every_sentence_repeats() -> None:
    text = (
        "Deck oven\n\nThe deck oven has three decks of stone. The deck oven is cleaned with "
        "a brass brush every evening. The deck oven was installed in 2019."
    )
    ranked = rank(candidates("How is the deck oven cleaned?", [_passage(text)]))
    assert ranked[0].text == "The deck oven is cleaned with a brass brush every evening."
    assert ranked[0].features["idf"] > ranked[1].features["idf"]


def test_a_sentence_ending_in_a_colon_is_read_with_what_it_introduces() -> None:
    text = "Proofing\n\nThe dough is proofed as follows:\n\n   covered, at 27 degrees, for one hour"
    reading = read("How is the dough proofed?", [_passage(text)])
    assert reading.chosen is not None
    assert reading.chosen.text.endswith("for one hour")


def test_two_documents_that_disagree_make_the_answer_abstain() -> None:
    a = _passage("Oven\n\nThe deck oven needs 45 minutes to reach 250 degrees.", 1, "a.md")
    b = _passage("Oven\n\nThe deck oven needs 30 minutes to reach 250 degrees.", 2, "b.md")
    got = answer_from("How many minutes does the deck oven need to reach 250 degrees?", [a, b])
    assert got.signals["margin"] < 0.1
    assert not got.answered, got.signals
    alone = answer_from("How many minutes does the deck oven need to reach 250 degrees?", [a])
    assert alone.answered and "45 minutes" in alone.text


def test_neighbouring_sentences_in_a_close_call_are_quoted_together() -> None:
    text = (
        "Allergens\n\nEvery loaf containing sesame carries a red label. "
        "Every loaf containing nuts carries a blue label."
    )
    reading = read("Which label does a loaf containing seeds carry?", [_passage(text)])
    assert reading.chosen is not None
    assert "red label" in reading.chosen.text and "blue label" in reading.chosen.text


def test_the_kind_of_answer_asked_for() -> None:
    assert asked_kind("How many days of notice does a tenant give?") == "quantity"
    assert asked_kind("When is the proofing cabinet sanitised?") == "time"
    assert asked_kind("Why is the starter kept cool?") == "reason"
    assert asked_kind("What does the red label mean?") is None


def test_model_choice_can_only_select_a_candidate() -> None:
    options = rank(candidates("How often is the sourdough starter fed?", [_passage(STARTER)]))
    model = ScriptedModel(["2"], token_prob=0.8)
    picked, prob = model_choice("How often is the sourdough starter fed?", options[:3], model)
    assert picked == options[1] and abs(prob - 0.8) < 1e-6
    assert model.last_call.grammar == 'root ::= "1" | "2" | "3"\n'
    refused, _ = model_choice("q", options[:3], ScriptedModel(["7"]))
    assert refused is None


def test_a_topic_cut_from_the_goal_is_read_as_the_goal() -> None:
    goal = "What does the pass statement do when it is executed?"
    assert asked_question("pass statement", goal) == goal
    assert asked_question("what does pass do?", goal) == "what does pass do?"  # a question
    assert asked_question("How is it executed", goal) == "How is it executed"  # asks
    assert asked_question("deck oven", goal) == "deck oven"  # not a part of the goal
    assert asked_question("pass statement", "") == "pass statement"  # no goal known
    assert asked_question("Can", "Can a lambda contain statements?") == (
        "Can a lambda contain statements?"  # a stop word asks nothing
    )
