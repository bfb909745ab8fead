"""Properties of the submission schema over generated documents: whatever arrives, loading
either gives records or a ValidationError naming a field for every message — never another
exception (which the API would turn into a 500), and never a text with NUL in it. And of
the readers in front of it: the nesting the JSON reader measures is the nesting json
parses; an integer parameter is read or refused, whatever its text."""

import json
from functools import reduce

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from api.json_body import MAX_DEPTH, NestedTooDeep, loads
from api.params import MAX_SQL_INTEGER, parse_integer
from api.problems import field_errors
from api.schemas import load_submission
from tests.api.test_submissions import PENALTY

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
# Documents near the real shape reach deeper into the schema than arbitrary JSON does.
FIELDS = ["op", "record_id", "category", "polarity", "severity", "subject", "decided_at",
          "amount", "authority", "document_number", "reason", "summary"]  # fmt: skip
near_records = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8)
near_submissions = st.fixed_dictionaries(
    {"submission_id": json_values, "records": st.lists(near_records, max_size=4) | json_values}
)


@settings(max_examples=300, deadline=None)
@given(document=json_values | near_submissions)
def test_any_document_loads_or_is_refused_field_by_field(document):
    try:
        submission_id, records = load_submission(document, max_records=10)
    except ValidationError as exc:
        errors = field_errors(exc.messages if isinstance(exc.messages, dict) else {})
        assert errors, exc.messages
        for error in errors:
            assert isinstance(error["field"], str) and error["field"], error
            assert isinstance(error["message"], str) and error["message"]
        return
    assert isinstance(submission_id, str)
    assert 1 <= len(records) <= 10
    for record in records:
        assert isinstance(record["record_id"], str)


def depth(value):
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(
    inner=json_values,
    wrappers=st.lists(st.sampled_from(["array", "object"]), max_size=2 * MAX_DEPTH),
    ensure_ascii=st.booleans(),
)
def test_the_depth_limit_counts_the_nesting_json_parses(inner, wrappers, ensure_ascii):
    document = inner
    for wrapper in wrappers:
        # A key full of what a bracket counter could mistake for nesting.
        document = [document] if wrapper == "array" else {'[{"\\': document}
    text = json.dumps(document, ensure_ascii=ensure_ascii)
    if depth(document) > MAX_DEPTH:
        with pytest.raises(NestedTooDeep):
            loads(text)
    else:
        assert loads(text) == document
        assert loads(text.encode("utf-16")) == document


def text_leaves(value, path=()):
    """The path of every string in a JSON document."""
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from text_leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from text_leaves(item, (*path, index))


def at(document, path):
    return reduce(lambda value, key: value[key], path, document)


def replaced(document, path, new):
    """A copy of the document with ``new`` at ``path``."""
    if not path:
        return new
    copy = list(document) if isinstance(document, list) else dict(document)
    copy[path[0]] = replaced(document[path[0]], path[1:], new)
    return copy


def holds_nul(value):
    return any("\x00" in at(value, path) for path in text_leaves(value))


texts_with_nul = st.builds(lambda a, b: f"{a}\x00{b}", st.text(max_size=10), st.text(max_size=10))


@settings(max_examples=300, deadline=None)
@given(
    leaf=st.sampled_from(list(text_leaves(PENALTY))),
    text=st.text(max_size=30) | texts_with_nul,
)
def test_a_record_loads_without_nul_or_names_the_field_that_has_one(leaf, text):
    record = replaced(PENALTY, leaf, text)
    try:
        _, records = load_submission({"submission_id": "s", "records": [record]}, max_records=1)
    except ValidationError as exc:
        if "\x00" in text:
            field = ".".join(map(str, ("records", 0, *leaf)))
            assert field in {error["field"] for error in field_errors(exc.messages)}
        return
    assert not holds_nul(records)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=30) | st.integers(-(2**70), 2**70).map(str))
def test_an_integer_parameter_is_read_in_range_or_refused(text):
    value = parse_integer(text, minimum=1)
    if value is not None:
        assert 1 <= value <= MAX_SQL_INTEGER
        assert value == int(text)


@given(number=st.integers(0, MAX_SQL_INTEGER))
def test_every_integer_in_range_is_read(number):
    assert parse_integer(str(number)) == number
