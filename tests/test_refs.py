"""Task references: finding them anywhere in args, resolving them with types kept."""

from __future__ import annotations

import pytest

from veritask.plan.refs import (
    Ref,
    RefError,
    fill_template,
    find_refs,
    format_value,
    has_refs,
    resolve,
    template_refs,
)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("$a", [Ref("a")]),
        ("$t1.population", [Ref("t1", ("population",))]),
        ("$t1.city.name", [Ref("t1", ("city", "name"))]),
        ("$a + 8", [Ref("a")]),
        ("($a + $b_2) / 2", [Ref("a"), Ref("b_2")]),
        ("$a.x+$a.y", [Ref("a", ("x",)), Ref("a", ("y",))]),
        (["$a", ["$b", {"k": "$c.f"}]], [Ref("a"), Ref("b"), Ref("c", ("f",))]),
        ({"outer": {"inner": ["x", "$deep"]}, "n": 3}, [Ref("deep")]),
        (("$tup",), [Ref("tup")]),
        ("costs $$5", []),
        ("price$a", []),
        ("$1", []),
        ("no refs here", []),
        ({"n": 3, "f": 1.5, "b": True, "z": None}, []),
    ],
)
def test_find_refs_everywhere(args: object, expected: list[Ref]) -> None:
    assert list(find_refs(args)) == expected
    assert has_refs(args) is bool(expected)


def test_find_refs_ignores_dict_keys() -> None:
    assert list(find_refs({"$key": 1})) == []


def test_ref_renders_as_written() -> None:
    assert str(Ref("t1", ("a", "b"))) == "$t1.a.b"
    assert str(Ref("t1")) == "$t1"


VALUES = {
    "a": 5,
    "f": 2.5,
    "big": 116120000.0,
    "s": "Paris",
    "rec": {"population": 67750000, "city": {"name": "Lyon"}, "tags": ["x"]},
    "lst": [1, 2],
    "none": None,
}


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("$a", 5),
        ("  $a ", 5),
        ("$f", 2.5),
        ("$lst", [1, 2]),
        ("$rec", VALUES["rec"]),
        ("$rec.population", 67750000),
        ("$rec.city.name", "Lyon"),
        ("$rec.tags", ["x"]),
        ("$none", None),
    ],
)
def test_whole_string_reference_keeps_the_value_type(arg: str, expected: object) -> None:
    got = resolve(arg, VALUES)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("$a + 8", "5 + 8"),
        ("$big / 2", "116120000 / 2"),
        ("$f * 2", "2.5 * 2"),
        ("city: $s", "city: Paris"),
        ("$rec.population + $a", "67750000 + 5"),
        ("list $lst", "list [1, 2]"),
        ("costs $$5", "costs $$5"),
    ],
)
def test_references_inside_longer_strings_are_formatted_in_place(arg: str, expected: str) -> None:
    assert resolve(arg, VALUES) == expected


def test_resolve_walks_nested_lists_and_dicts() -> None:
    args = {"xs": ["$a", {"k": "$rec.city"}, "$a + 1", 7], "keep": True, "n": None}
    assert resolve(args, VALUES) == {
        "xs": [5, {"k": {"name": "Lyon"}}, "5 + 1", 7],
        "keep": True,
        "n": None,
    }


def test_resolve_does_not_mutate_its_input() -> None:
    args = {"xs": ["$a"]}
    resolve(args, VALUES)
    assert args == {"xs": ["$a"]}


def test_resolve_reads_attributes_of_objects() -> None:
    class Point:
        x = 3

    assert resolve("$p.x", {"p": Point()}) == 3


@pytest.mark.parametrize(
    ("arg", "fragment"),
    [
        ("$missing", "'missing'"),
        ("$rec.nope", "no field 'nope'"),
        ("$rec.city.zip", "no field 'zip'"),
        ("$a.x", "no field 'x'"),
        ("total $missing", "'missing'"),
    ],
)
def test_unresolvable_references_raise_ref_error(arg: str, fragment: str) -> None:
    with pytest.raises(RefError, match=fragment):
        resolve(arg, VALUES)


def test_template_refs_and_fill() -> None:
    template = "France {$rec.population}, plus {$a}; {not a ref} {$ghost}"
    assert template_refs(template) == [Ref("rec", ("population",)), Ref("a"), Ref("ghost")]
    assert fill_template(template, VALUES, missing="[?]") == (
        "France 67750000, plus 5; {not a ref} [?]"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.0, "3"), (2.5, "2.5"), (7, "7"), ("x", "x"), ([1, "a"], '[1, "a"]'), (None, "null")],
)
def test_format_value(value: object, text: str) -> None:
    assert format_value(value) == text


@pytest.mark.parametrize(
    ("arg", "values"),
    [
        ("$a.__class__", {"a": 5}),
        ("$lst.count", {"lst": [1, 2]}),
        ("$s.upper", {"s": "Paris"}),
        ("$p._secret", {"p": type("P", (), {"_secret": 1})()}),
    ],
)
def test_field_references_read_data_not_methods_or_private_attributes(
    arg: str, values: dict[str, object]
) -> None:
    # `$t.field` names a field of a value; a method object or a private attribute is not
    # a value a task should receive (nor one that survives the JSON event log).
    with pytest.raises(RefError):
        resolve(arg, values)
