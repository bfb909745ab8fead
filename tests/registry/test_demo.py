from collections import Counter

import sqlalchemy as sa

from registry.demo import DemoSpec, load_demo
from registry.identifiers import validate_id_number, validate_uscc
from registry.members import Member
from registry.records import CreditRecord, CreditRecordVersion, Polarity, RecordCategory
from registry.subjects import Subject, SubjectName

SMALL = DemoSpec(seed=7, enterprises=60)


def snapshot(session):
    subjects = session.execute(
        sa.select(Subject.kind, Subject.name, Subject.uscc, Subject.shop_id).order_by(
            Subject.name, Subject.uscc
        )
    ).all()
    records = session.execute(
        sa.select(
            CreditRecord.member_record_id,
            CreditRecord.category,
            CreditRecord.polarity,
            CreditRecord.amount_value,
        ).order_by(CreditRecord.member_record_id)
    ).all()
    return subjects, records


def test_demo_has_every_kind_and_valid_identifiers(session, runtime):
    summary = load_demo(session, runtime, SMALL)
    assert summary.loaded
    kinds = Counter(session.scalars(sa.select(Subject.kind)).all())
    # The 60 generated, and the supplier member, subject of the tour's list entry.
    assert kinds["enterprise"] == 61 and kinds["person"] >= 1 and kinds["shop"] >= 2
    for code in session.scalars(sa.select(Subject.uscc).where(Subject.uscc.is_not(None))):
        assert validate_uscc(code).warnings == ()
    for ciphertext in session.scalars(
        sa.select(Subject.id_number_ciphertext).where(Subject.kind == "person")
    ):
        validate_id_number(runtime.vault.decrypt(ciphertext))
    platforms = session.scalars(
        sa.select(Subject.platform_member_id).where(Subject.kind == "shop").distinct()
    ).all()
    assert len(platforms) == 2


def test_demo_covers_every_category_and_polarity_seen_in_the_field(session, runtime):
    load_demo(session, runtime, SMALL)
    pairs = set(
        session.execute(sa.select(CreditRecord.category, CreditRecord.polarity).distinct())
        .tuples()
        .all()
    )
    assert {c for c, _ in pairs} == {str(c) for c in RecordCategory}
    assert {p for _, p in pairs} == {str(p) for p in Polarity}


def test_demo_has_english_names_renames_and_corrections(session, runtime):
    load_demo(session, runtime, DemoSpec(seed=7, enterprises=300))
    names = session.scalars(sa.select(Subject.name).where(Subject.kind == "enterprise")).all()
    assert any(name.isascii() for name in names)
    assert any(not name.isascii() for name in names)
    assert (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(SubjectName)
            .where(SubjectName.valid_until.is_not(None))
        )
        > 0
    )
    assert (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(CreditRecordVersion)
            .where(CreditRecordVersion.op == "correct")
        )
        > 0
    )


def test_demo_is_deterministic_for_a_seed(app, session, runtime):
    load_demo(session, runtime, SMALL)
    first = snapshot(session)
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Member)) == 0
    load_demo(session, runtime, SMALL)
    assert snapshot(session) == first
    session.rollback()
    load_demo(session, runtime, DemoSpec(seed=8, enterprises=60))
    assert snapshot(session) != first


def test_demo_does_not_load_into_a_registry_with_members(session, runtime):
    load_demo(session, runtime, SMALL)
    before = session.scalar(sa.select(sa.func.count()).select_from(Subject))
    again = load_demo(session, runtime, SMALL)
    assert not again.loaded
    assert session.scalar(sa.select(sa.func.count()).select_from(Subject)) == before


def test_demo_has_entries_on_both_lists_one_still_in_notice(session, runtime):
    from registry.listings import ListEntry

    summary = load_demo(session, runtime, SMALL)
    states = session.execute(
        sa.select(ListEntry.list_kind, ListEntry.state, sa.func.count()).group_by(
            ListEntry.list_kind, ListEntry.state
        )
    ).all()
    by = {(kind, state): count for kind, state, count in states}
    assert by.get(("serious_illegal", "published"), 0) > 0
    assert by.get(("judgment_debtor", "published"), 0) > 0
    assert by.get(("redlist", "published"), 0) > 0
    assert sum(c for (_, state), c in by.items() if state == "notice") == 1
    kinds = ("serious_illegal", "judgment_debtor", "abnormal", "redlist")
    assert sum(summary.counts[f"{kind} entries"] for kind in kinds) == sum(by.values())


def test_the_demos_rating_queue_is_a_handful_and_the_rest_published(session, runtime):
    from registry import ratings
    from registry.demo import RATING_PROPOSALS_LEFT

    summary = load_demo(session, runtime, SMALL)
    queue = ratings.queue(session)
    assert len(queue) == RATING_PROPOSALS_LEFT
    published = ratings.published_ratings(session, list(session.scalars(sa.select(Subject.id))))
    assert len(published) == summary.counts["published ratings"] > RATING_PROPOSALS_LEFT
    assert {r.subject_id for r in queue}.isdisjoint(published)
