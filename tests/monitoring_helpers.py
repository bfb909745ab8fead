"""Shared pieces of the monitoring tests: subjects, records, list entries, ratings, a job run."""

from __future__ import annotations

import uuid
from datetime import timedelta

from registry import monitoring, ratings
from registry.audit import Actor, ActorKind
from registry.listings import ListEntry, ListingState, publish_due
from registry.records import revoke_record, upsert_record
from registry.scorecard import load_scorecard
from registry.subjects import register_subject
from tests import factories
from tests.factories import TEST_ACTOR

CARD = load_scorecard("2026-01")
ALICE = Actor(ActorKind.STAFF, "alice")


def company(session, runtime, seed: int):
    return register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        kind="enterprise",
        name=f"示范{seed}科技有限公司",
        uscc=factories.uscc(seed),
    )


def penalty(session, member, subject, clock, number, **fields):
    record, _ = upsert_record(
        session,
        actor=TEST_ACTOR,
        member=member,
        subject=subject,
        member_record_id=f"P-{number}",
        fields={
            "category": "administrative_penalty",
            "polarity": "negative",
            "severity": "serious",
            "authority": "北京市市场监督管理局",
            "document_number": f"京市监罚〔2026〕{number}号",
            "decided_at": clock.now().date(),
            **fields,
        },
        now=clock.now(),
    )
    return record


def correct(session, member, subject, clock, number, reason, **fields):
    record, _ = upsert_record(
        session,
        actor=TEST_ACTOR,
        member=member,
        subject=subject,
        member_record_id=f"P-{number}",
        fields=fields,
        reason=reason,
        now=clock.now(),
    )
    return record


def revoke(session, member, clock, number):
    return revoke_record(
        session,
        actor=TEST_ACTOR,
        member=member,
        member_record_id=f"P-{number}",
        reason="entered twice",
        now=clock.now(),
    )


def published_entry(session, regulator, subject, clock) -> ListEntry:
    """A blacklist entry whose notice was served and whose window is over, published by
    the list job."""
    entry = ListEntry(
        id=uuid.uuid4(),
        subject_id=subject.id,
        list_kind="serious_illegal",
        state=ListingState.NOTICE,
        proposer_member_id=regulator.id,
        authority="北京市市场监督管理局",
        reason="严重违法失信",
        legal_basis="《市场监督管理严重违法失信名单管理办法》第二条",
        document_number="京市监列〔2026〕1号",
        measures_text="限制参加政府采购活动",
        period_months=36,
        min_repair_months=12,
        proposed_at=clock.now(),
        notice_channel="post",
        notice_served_on=(clock.now() - timedelta(days=15)).date(),
        notice_reference="挂号信 XA100000001CN",
        objection_deadline=(clock.now() - timedelta(days=1)).date(),
    )
    session.add(entry)
    session.flush()
    assert publish_due(session, clock.now()) == 1
    return entry


def publish_rating(session, clock):
    """Score what is queued and publish every open proposal."""
    session.flush()
    ratings.propose_due(session, clock.now(), scorecard=CARD, auto_approve_unchanged=True)
    for proposal in ratings.queue(session):
        ratings.approve(session, proposal, reviewer=ALICE, at=clock.now())


def detect(session, clock) -> int:
    session.flush()
    return monitoring.change_job()(session, clock.now())
