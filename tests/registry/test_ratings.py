"""Subject credit ratings: the scorecard, proposals through the outbox, review, appeals."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from registry import ratings
from registry.audit import Actor, ActorKind
from registry.errors import Conflict, Forbidden, InvalidInput
from registry.ratings import RatingStatus, SubjectRating
from registry.records import revoke_record
from registry.scorecard import (
    ListFacts,
    RecordFacts,
    ScorecardError,
    explained_total,
    load_scorecard,
    score,
)
from registry.subjects import register_subject
from search.documents import build_documents
from tests import factories
from tests.factories import TEST_ACTOR
from tests.monitoring_helpers import ALICE, CARD, penalty
from tests.signing import signed_member

TODAY = date(2026, 11, 25)
BOB = Actor(ActorKind.STAFF, "bob")
CAROL = Actor(ActorKind.STAFF, "carol")


def fact(n, category, polarity, severity=None, on=TODAY, amount=None):
    return RecordFacts(f"r{n}", 1, category, polarity, severity, on, amount)


# --- the scorecard -------------------------------------------------------------------------

records_strategy = st.lists(
    st.builds(
        fact,
        st.integers(0, 10_000),
        st.sampled_from(
            [
                "administrative_penalty",
                "dishonest_debtor",
                "loan_default",
                "honour",
                "payment_experience",
                "consumer_complaint",
                "administrative_licence",
            ]
        ),
        st.sampled_from(["negative", "positive", "neutral"]),
        st.sampled_from([None, "minor", "general", "serious"]),
        st.dates(TODAY - timedelta(days=2500), TODAY),
        st.none() | st.decimals(1, 10**9, places=2),
    ),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(records=records_strategy, lists=st.sets(st.sampled_from(["blacklist", "redlist"])))
def test_the_explanation_adds_up_to_the_score(records, lists):
    entries = [ListFacts(f"e-{kind}", kind) for kind in sorted(lists)]
    rating = score(CARD, records, entries, as_of=TODAY)
    assert 0 <= rating.score <= 100
    assert explained_total(rating.explanation) == rating.score
    if "blacklist" in lists:
        assert rating.grade == "D" and rating.risk_band == "very high"
    else:
        # The grade is the best one whose minimum the score reaches (grades best first).
        minimums = dict(CARD.grades)
        assert rating.score >= minimums[rating.grade]
        better = CARD.grade_order[: CARD.grade_order.index(rating.grade)]
        assert all(rating.score < minimums[grade] for grade in better)
    # Every record line names a record and the rule that scored it.
    for line in rating.explanation:
        if line["kind"] == "record":
            assert line["record_id"].startswith("r") and line["rule"]


def test_points_halve_with_age_and_grow_with_the_amount():
    fresh = score(CARD, [fact(1, "tax_arrears", "negative")], [], as_of=TODAY)
    two_years = score(
        CARD, [fact(1, "tax_arrears", "negative", on=TODAY - timedelta(days=731))], [], as_of=TODAY
    )
    large = score(
        CARD, [fact(1, "tax_arrears", "negative", amount=Decimal("1000000"))], [], as_of=TODAY
    )
    points = [Decimal(r.explanation[1]["points"]) for r in (fresh, two_years, large)]
    assert points[0] == Decimal("-15.00")
    assert points[1] == pytest.approx(Decimal("-7.50"), abs=Decimal("0.05"))
    # Two tenfolds above the reference: 1.5 times the points.
    assert points[2] == Decimal("-22.50")
    # Older than five years: nothing.
    stale = fact(1, "tax_arrears", "negative", on=TODAY - timedelta(days=5 * 366))
    assert score(CARD, [stale], [], as_of=TODAY).score == 75


def test_the_first_matching_rule_scores_a_record_and_unmatched_records_count_nothing():
    serious = fact(1, "administrative_penalty", "negative", "serious")
    minor = fact(2, "administrative_penalty", "negative", "minor")
    neutral = fact(3, "court_judgment", "neutral")
    rating = score(CARD, [serious, minor, neutral], [], as_of=TODAY)
    rules = {line["record_id"]: line["rule"] for line in rating.explanation[1:]}
    assert rules == {"r1": "penalty-serious", "r2": "penalty-minor"}
    assert rating.score == 75 - 25 - 3 and rating.grade == "D"  # below C's 50


def test_a_broken_scorecard_is_refused_with_the_reason(tmp_path):
    (tmp_path / "bad.toml").write_text('version = "bad"\nbase = 50\n', encoding="utf-8")
    with pytest.raises(ScorecardError, match="rules"):
        load_scorecard("bad", tmp_path)
    (tmp_path / "order.toml").write_text(
        (
            'version = "order"\nbase = 50\nrules = []\n'
            'grades = [{grade = "B", min = 0}, {grade = "A", min = 80}]\n'
            'risk_bands = [{band = "x", min = 0}]\n'
        ),
        encoding="utf-8",
    )
    with pytest.raises(ScorecardError, match="highest minimum"):
        load_scorecard("order", tmp_path)
    with pytest.raises(ScorecardError, match="no scorecard"):
        load_scorecard("missing", tmp_path)


# --- proposals and review ------------------------------------------------------------------


@pytest.fixture
def regulator(session):
    return factories.member(session, kind="regulator", roles=("regulator", "submitter"))


@pytest.fixture
def company(session, runtime):
    return register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        kind="enterprise",
        name="北京华信科技有限公司",
        uscc="91110000600037341L",
    )


def propose(session, clock, auto=True):
    session.flush()
    return ratings.propose_due(session, clock.now(), scorecard=CARD, auto_approve_unchanged=auto)


def current(session, company):
    return ratings.published_ratings(session, [company.id]).get(company.id)


def proposals(session, company):
    return session.scalars(
        sa.select(SubjectRating)
        .where(SubjectRating.subject_id == company.id)
        .order_by(SubjectRating.proposed_at, SubjectRating.id)
    ).all()


def test_a_record_change_queues_a_proposal_that_a_reviewer_publishes(
    session, regulator, company, clock
):
    record = penalty(session, regulator, company, clock, 1)
    assert propose(session, clock) == 1
    [proposal] = proposals(session, company)
    assert proposal.status == RatingStatus.PROPOSED
    assert (proposal.score, proposal.grade) == (50, "C")
    assert proposal.explanation[1]["record_id"] == str(record.id)
    # Nothing new to score: no second proposal.
    assert propose(session, clock) == 0
    ratings.enqueue_ratings(session, [company.id], at=clock.now())
    propose(session, clock)
    assert len(proposals(session, company)) == 1

    assert build_documents(session, [company.id])[company.id]["grade"] is None
    ratings.approve(session, proposal, reviewer=ALICE, at=clock.now())
    assert current(session, company) is proposal
    # The grade reaches the search document through the outbox.
    assert build_documents(session, [company.id])[company.id]["grade"] == "C"
    with pytest.raises(Conflict) as refused:
        ratings.approve(session, proposal, reviewer=BOB, at=clock.now())
    assert refused.value.extensions["state"] == "published"


def test_an_unchanged_grade_is_published_without_review_only_when_configured(
    session, regulator, company, clock
):
    penalty(session, regulator, company, clock, 1, severity="general")
    propose(session, clock)
    [first] = proposals(session, company)
    ratings.approve(session, first, reviewer=ALICE, at=clock.now())
    assert (first.score, first.grade) == (65, "C")
    clock.advance(timedelta(days=1))
    penalty(session, regulator, company, clock, 2, severity="minor")  # -3: same grade
    propose(session, clock, auto=True)
    second = proposals(session, company)[-1]
    assert second.auto_approved and second.status == RatingStatus.PUBLISHED
    assert first.status == RatingStatus.REPLACED
    clock.advance(timedelta(days=1))
    penalty(session, regulator, company, clock, 3, severity="minor")
    propose(session, clock, auto=False)
    third = proposals(session, company)[-1]
    assert third.status == RatingStatus.PROPOSED and not third.auto_approved


def test_overrides_need_a_reason_and_a_second_reviewer_beyond_one_grade(
    session, regulator, company, clock
):
    penalty(session, regulator, company, clock, 1)
    propose(session, clock)
    [proposal] = proposals(session, company)  # grade C
    with pytest.raises(InvalidInput):
        ratings.override(
            session, proposal, reviewer=ALICE, grade="B", reason=" ", scorecard=CARD, at=clock.now()
        )
    with pytest.raises(InvalidInput):
        ratings.override(
            session, proposal, reviewer=ALICE, grade="Z", reason="r", scorecard=CARD, at=clock.now()
        )
    ratings.override(
        session,
        proposal,
        reviewer=ALICE,
        grade="A",
        reason="the penalty was annulled on appeal",
        scorecard=CARD,
        at=clock.now(),
    )
    assert proposal.status == RatingStatus.AWAITING_SECOND
    assert current(session, company) is None
    with pytest.raises(Forbidden):
        ratings.second_review(
            session, proposal, reviewer=ALICE, confirm=True, reason=None, at=clock.now()
        )
    ratings.second_review(
        session, proposal, reviewer=BOB, confirm=True, reason=None, at=clock.now()
    )
    assert current(session, company) is proposal
    assert proposal.summary()["grade"] == "A" and proposal.summary()["overridden"]
    assert proposal.second_reviewer == "staff:bob"


def test_a_refused_override_goes_back_to_the_queue_and_even_one_grade_needs_a_second(
    session, regulator, company, clock
):
    penalty(session, regulator, company, clock, 1)
    propose(session, clock)
    [proposal] = proposals(session, company)
    ratings.override(
        session, proposal, reviewer=ALICE, grade="A", reason="x", scorecard=CARD, at=clock.now()
    )
    ratings.second_review(
        session, proposal, reviewer=BOB, confirm=False, reason="not shown", at=clock.now()
    )
    assert proposal.status == RatingStatus.PROPOSED and proposal.final_grade is None
    # Four eyes on any change: one grade from the scorecard's (C -> B) waits too.
    ratings.override(
        session, proposal, reviewer=ALICE, grade="B", reason="y", scorecard=CARD, at=clock.now()
    )
    assert proposal.status == RatingStatus.AWAITING_SECOND and current(session, company) is None
    ratings.second_review(
        session, proposal, reviewer=BOB, confirm=True, reason=None, at=clock.now()
    )
    assert proposal.status == RatingStatus.PUBLISHED and proposal.final_grade == "B"


def test_a_registry_may_let_one_reviewer_move_a_grade_by_one(session, regulator, company, clock):
    penalty(session, regulator, company, clock, 1)
    propose(session, clock)
    [proposal] = proposals(session, company)
    one_step = {"scorecard": CARD, "at": clock.now(), "second_review_from": 2}
    ratings.override(session, proposal, reviewer=ALICE, grade="B", reason="y", **one_step)
    assert proposal.status == RatingStatus.PUBLISHED and proposal.second_reviewer is None


def test_the_worker_publishes_no_unchanged_grade_unless_configured(
    session, regulator, company, clock
):
    from config import load_settings

    penalty(session, regulator, company, clock, 1)
    propose(session, clock)
    ratings.approve(session, proposals(session, company)[0], reviewer=ALICE, at=clock.now())
    clock.advance(timedelta(days=1))
    licence = {"severity": None, "category": "administrative_licence", "polarity": "positive"}
    penalty(session, regulator, company, clock, 2, **licence)  # +1: still C
    session.flush()
    ratings.rating_job(load_settings("dev", environ={}))(session, clock.now())
    first, waiting = proposals(session, company)
    assert waiting.status == RatingStatus.PROPOSED and not waiting.auto_approved
    assert current(session, company) is first

    clock.advance(timedelta(days=1))
    penalty(session, regulator, company, clock, 3, **licence)
    session.flush()
    configured = {"CREDITREG_RATING_AUTO_APPROVE_UNCHANGED": "true"}
    ratings.rating_job(load_settings("dev", environ=configured))(session, clock.now())
    published = current(session, company)
    assert published.auto_approved and published.approved_by == "system:rating-proposals"


def test_an_appeal_is_decided_by_a_reviewer_who_did_not_approve(session, regulator, company, clock):
    penalty(session, regulator, company, clock, 1)
    propose(session, clock)
    [proposal] = proposals(session, company)
    ratings.approve(session, proposal, reviewer=ALICE, at=clock.now())
    appeal = ratings.file_appeal(
        session,
        proposal,
        applicant=ratings.subject_actor(company.id),
        grounds="the penalty was paid",
        at=clock.now(),
    )
    with pytest.raises(Conflict):
        ratings.file_appeal(session, proposal, applicant=ALICE, grounds="again", at=clock.now())
    with pytest.raises(Forbidden):
        ratings.decide_appeal(
            session, appeal, reviewer=ALICE, grade="B", reason="r", scorecard=CARD, at=clock.now()
        )
    amended = ratings.decide_appeal(
        session,
        appeal,
        reviewer=BOB,
        grade="B",
        reason="paid in full",
        scorecard=CARD,
        at=clock.now(),
    )
    # The amendment is an override like any other: it waits for a second reviewer.
    assert appeal.status == "open" and amended is not None
    assert amended.status == RatingStatus.AWAITING_SECOND
    ratings.second_review(
        session, amended, reviewer=CAROL, confirm=True, reason=None, at=clock.now()
    )
    assert appeal.status == "amended"
    assert current(session, company) is amended and amended.final_grade == "B"
    assert proposal.status == RatingStatus.REPLACED
    assert [r.id for r in ratings.history(session, company.id)] == [amended.id, proposal.id]


# --- over the API --------------------------------------------------------------------------


def test_the_subject_view_shows_the_rating_and_only_the_subject_may_appeal(
    session, client, clock, regulator, company
):
    penalty(session, regulator, company, clock, 1)
    propose(session, clock)
    [proposal] = proposals(session, company)
    ratings.approve(session, proposal, reviewer=ALICE, at=clock.now())
    stranger = signed_member(session, client, clock)
    itself = signed_member(session, client, clock, kind="enterprise")
    itself.member.uscc = company.uscc
    session.commit()

    view = stranger.get(f"/api/v1/subjects/{company.id}?purpose=counterparty_check").get_json()
    assert view["grade"] == "C" and view["rating"]["score"] == 50
    assert explained_total(view["rating"]["explanation"]) == view["rating"]["score"]

    path = f"/api/v1/ratings/{proposal.id}/appeals"
    refused = stranger.post(path, {"grounds": "not mine to appeal"})
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "/problems/forbidden"
    empty = itself.post(path, {})
    assert empty.status_code == 422
    assert [e["field"] for e in empty.get_json()["errors"]] == ["grounds"]
    filed = itself.post(path, {"grounds": "the penalty was annulled"})
    assert filed.status_code == 201, filed.get_json()
    assert filed.get_json()["status"] == "open"
    again = itself.post(path, {"grounds": "once more"})
    assert again.status_code == 409


def test_an_appeal_follows_its_rating_when_a_new_one_replaces_it(
    session, regulator, company, clock
):
    penalty(session, regulator, company, clock, 1)
    propose(session, clock)
    [first] = proposals(session, company)  # C
    ratings.approve(session, first, reviewer=ALICE, at=clock.now())
    appeal = ratings.file_appeal(
        session, first, applicant=ratings.subject_actor(company.id), grounds="g", at=clock.now()
    )
    clock.advance(timedelta(days=1))
    # A licence (+1): still C, published without review.
    penalty(
        session,
        regulator,
        company,
        clock,
        2,
        severity=None,
        category="administrative_licence",
        polarity="positive",
    )
    propose(session, clock)
    second = current(session, company)
    assert second is not first and second.auto_approved
    assert appeal.rating_id == second.id and appeal.status == "open"
    # Carol approved nothing: she amends by two grades, which waits for a second reviewer.
    ratings.decide_appeal(
        session,
        appeal,
        reviewer=CAROL,
        grade="A",
        reason="annulled",
        scorecard=CARD,
        at=clock.now(),
    )
    assert appeal.status == "open" and appeal.amended_rating_id is not None
    assert current(session, company) is second
    with pytest.raises(Conflict):
        ratings.decide_appeal(
            session, appeal, reviewer=BOB, grade=None, reason="r", scorecard=CARD, at=clock.now()
        )
    amendment = ratings.get_rating(session, appeal.amended_rating_id)
    ratings.second_review(
        session, amendment, reviewer=BOB, confirm=False, reason="no proof", at=clock.now()
    )
    assert appeal.status == "open" and appeal.amended_rating_id is None
    amended = ratings.decide_appeal(
        session, appeal, reviewer=BOB, grade="B", reason="paid", scorecard=CARD, at=clock.now()
    )
    ratings.second_review(
        session, amended, reviewer=CAROL, confirm=True, reason=None, at=clock.now()
    )
    assert appeal.status == "amended" and current(session, company).final_grade == "B"
    # The refused amendment left the queue; it was never a proposal of the scorecard's.
    assert amendment.status == RatingStatus.SUPERSEDED
    assert ratings.queue(session) == []


def test_a_rated_subject_whose_records_are_all_revoked_is_proposed_the_base_score(
    session, regulator, company, clock
):
    penalty(session, regulator, company, clock, 1)
    propose(session, clock)
    ratings.approve(session, proposals(session, company)[0], reviewer=ALICE, at=clock.now())
    clock.advance(timedelta(days=1))
    revoke_record(
        session,
        actor=TEST_ACTOR,
        member=regulator,
        member_record_id="P-1",
        reason="annulled by the court",
        now=clock.now(),
    )
    propose(session, clock, auto=False)
    latest = proposals(session, company)[-1]
    assert latest.status == RatingStatus.PROPOSED
    assert (latest.score, latest.grade) == (CARD.base, "B")


def test_ratings_are_scored_again_each_month_and_only_once(session, regulator, company, clock):
    penalty(session, regulator, company, clock, 1)
    propose(session, clock)
    ratings.approve(session, proposals(session, company)[0], reviewer=ALICE, at=clock.now())
    assert ratings.requeue_aged(session, clock.now()) == 0
    clock.advance(timedelta(days=40))
    assert ratings.requeue_aged(session, clock.now()) == 1
    propose(session, clock)
    aged = proposals(session, company)[-1]
    assert aged.proposed_at == clock.now() and aged.auto_approved  # same grade, a month older
    assert Decimal(aged.explanation[1]["points"]) > Decimal("-25.00")  # decayed
    assert ratings.requeue_aged(session, clock.now()) == 0


def test_the_database_refuses_a_second_published_rating(session, regulator, company, clock):
    penalty(session, regulator, company, clock, 1)
    propose(session, clock)
    [proposal] = proposals(session, company)
    ratings.approve(session, proposal, reviewer=ALICE, at=clock.now())
    twin = SubjectRating(
        **{
            column: getattr(proposal, column)
            for column in ("subject_id", "scorecard", "score", "grade", "risk_band")
        },
        status=RatingStatus.PUBLISHED,
        explanation=[],
        basis="x",
        proposed_at=clock.now(),
    )
    session.add(twin)
    with pytest.raises(sa.exc.IntegrityError):
        session.flush()
    session.rollback()
