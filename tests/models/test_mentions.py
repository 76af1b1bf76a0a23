"""Candidates a text names, and which of them compete for one answer."""

from __future__ import annotations

import pytest

from veritask.models.mentions import competing, mentions


def names(text: str) -> list[str]:
    return [m.text for m in mentions(text)]


def test_mentions_are_runs_of_capitalised_or_numeric_words() -> None:
    text = "Room 4B was booked first, but the meeting moved to Room 7C. Lunch is at 12:30."
    assert names(text) == ["Room 4B", "Room 7C", "12:30"]  # "Lunch" only starts a sentence
    assert names("Maria Lopez sent it to Tom Baker, who told me.") == ["Maria Lopez", "Tom Baker"]
    assert names("I think so, said Ada.") == ["Ada"]  # a lone capital letter is no candidate


@pytest.mark.parametrize(
    ("text", "rivals"),
    [
        ("works from Bristol, near the Leeds road", ("Bristol", "Leeds")),
        ("They chose Bristol or Leeds", ("Bristol", "Leeds")),
        ("Room 4B was booked first, but the meeting moved to Room 7C", ("Room 4B", "Room 7C")),
        ("it was 31 euros, but after the discount it came to 240 euros", ("31", "240")),
        ("Tom Baker, who forwarded it to Aiko Sato", ("Tom Baker", "Aiko Sato")),
        ("The meeting moved to Room 4B on Friday", None),  # a room and a day
        ("on March 3, 2024", None),  # one date
        ("from Leeds to the Leeds road", None),  # the same one twice
        ("The parcel weighs 12 kg", None),
    ],
)
def test_two_different_candidates_of_one_kind_compete(
    text: str, rivals: tuple[str, str] | None
) -> None:
    assert competing(text, 0, len(text)) == rivals


def test_a_span_competes_with_a_candidate_it_names_only_in_part() -> None:
    text = "Ines Costa forwarded it to Ravi Shah."
    start = text.index("Costa")
    assert competing(text, start, len(text)) == ("Ines Costa", "Ravi Shah")
    assert competing(text, text.index("Ravi"), len(text)) is None
