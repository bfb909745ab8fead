"""The matching evaluation (bench/matching): its set is reproducible and complete, and its
scoring counts right."""

from bench.matching.dataset import KINDS, NEGATIVE_KINDS, generate
from bench.matching.scoring import Outcome, figures
from registry.identifiers import is_valid_uscc, normalize_uscc


def small_set(seed: int = 7):
    return generate(subjects=600, queries=120, negatives=30, seed=seed)


def test_the_same_seed_gives_the_same_set_and_another_seed_another():
    first = small_set()
    assert first.fingerprint() == small_set().fingerprint()
    assert first.fingerprint() != small_set(8).fingerprint()


def test_the_set_has_every_kind_of_query_and_valid_codes():
    dataset = small_set()
    counts = {kind: 0 for kind in (*KINDS, *NEGATIVE_KINDS)}
    for query in dataset.queries:
        counts[query.kind] += 1
    assert counts == {**dict.fromkeys(KINDS, 10), **dict.fromkeys(NEGATIVE_KINDS, 10)}

    usccs = [s.uscc for s in dataset.subjects]
    assert len(set(usccs)) == len(usccs) == 600
    assert all(is_valid_uscc(code) for code in usccs)
    assert all(s.uscc[2:8] == s.region_code for s in dataset.subjects)
    assert any(s.parts.parenthesised for s in dataset.subjects)
    assert any(s.name.endswith("分公司") for s in dataset.subjects)
    assert any(s.former_name for s in dataset.subjects)

    names = {s.name for s in dataset.subjects} | {s.former_name for s in dataset.subjects}
    for query in dataset.queries:
        if query.negative:
            assert query.kind in NEGATIVE_KINDS
            assert query.row["name"] not in names, query  # a near miss, never a real name
            continue
        subject = dataset.by_key[query.expected]
        if "uscc" in query.row:
            assert query.row["uscc"] != subject.uscc  # messy, yet the same code
            assert normalize_uscc(query.row["uscc"]).strip() == subject.uscc
        elif query.kind == "exact":
            assert query.row["name"] == subject.name
        elif query.kind == "former name":
            assert query.row["name"] == subject.former_name != subject.name
        else:
            assert query.row["name"] != subject.name, query


def test_recall_precision_and_false_matches_are_counted_right():
    outcomes = [
        Outcome("exact", "S1", ("S1", "S2"), "match", 0.99),  # right, matched
        Outcome("exact", "S2", ("S1", "S2"), "match", 0.9),  # wrong company matched
        Outcome("typo", "S3", ("S3",), "possible", 0.7),  # right, possible
        Outcome("typo", "S4", (), "none"),  # not found
        Outcome("typo", "S7", ("S7",), "none", 0.5),  # first, but not flagged
        Outcome("near miss", None, ("S5",), "match", 0.88),  # a false match
        Outcome("near miss", None, ("S6",), "possible", 0.7),
        Outcome("near miss", None, (), "none"),
    ]
    assert [o.rank for o in outcomes[:5]] == [1, 2, 1, None, 1]
    result = figures(outcomes)
    assert (result.positives, result.first, result.recall_at_1) == (5, 3, 0.6)
    assert (result.flagged, result.flagged_at_1) == (2, 0.4)
    assert (result.matches, result.right_matches) == (3, 1)
    assert result.match_precision == 1 / 3
    assert (result.negatives, result.negative_matches, result.negative_possible) == (3, 1, 1)
    assert result.by_kind["exact"].recall_at_1 == 0.5
    assert result.by_kind["typo"].decisions == {"match": 0, "possible": 1, "none": 2, "error": 0}
    assert result.by_kind["typo"].flagged_at_1 == 1 / 3
    assert result.by_kind["near miss"].first == 0
