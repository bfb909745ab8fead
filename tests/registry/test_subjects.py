from datetime import timedelta

import pytest
import sqlalchemy as sa

from registry.audit import AuditEvent
from registry.errors import Conflict, InvalidInput
from registry.subjects import Subject, find_subject, register_subject, rename_subject
from tests import factories
from tests.factories import TEST_ACTOR

ID_NUMBER = "11010519491231002X"


def test_enterprise_is_identified_by_normalised_uscc(session, runtime):
    subject = register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        kind="enterprise",
        name="北京華信科技有限公司",
        uscc="9131 0115 ma1k3btp2b",
        region_code="310115",
    )
    assert subject.uscc == "91310115MA1K3BTP2B"
    assert subject.name == "北京華信科技有限公司"
    assert subject.name_normalised == "北京华信科技有限公司"
    assert subject.uscc_warnings is None
    with pytest.raises(Conflict):
        register_subject(
            session,
            actor=TEST_ACTOR,
            vault=runtime.vault,
            kind="enterprise",
            name="另一家",
            uscc="91310115MA1K3BTP2B",
        )


def test_pilot_uscc_is_accepted_with_a_warning_and_kept_as_is(session, runtime):
    subject = register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        kind="enterprise",
        name="福州试点企业有限公司",
        uscc="91350100M0001TGQXM",
    )
    assert subject.uscc == "91350100M0001TGQXM"
    assert subject.uscc_warnings == "uscc.pilot_checksum"


def test_person_id_number_is_never_stored_in_clear(session, runtime):
    subject = register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        kind="person",
        name="张三",
        id_number="11010519491231002x",
    )
    assert subject.id_number_masked == "1101**********002X"
    assert subject.id_number_hash == runtime.vault.keyed_hash(ID_NUMBER)
    assert runtime.vault.decrypt(subject.id_number_ciphertext) == ID_NUMBER
    row = session.execute(sa.select(Subject.__table__).where(Subject.id == subject.id)).one()
    assert not any(ID_NUMBER in str(value) for value in row)
    events = session.scalars(
        sa.select(AuditEvent).where(AuditEvent.object_id == str(subject.id))
    ).all()
    assert events and not any(ID_NUMBER in str(e.after) for e in events)
    found = find_subject(session, kind="person", id_number_hash=runtime.vault.keyed_hash(ID_NUMBER))
    assert found == subject


def test_invalid_id_number_error_does_not_echo_it(session, runtime):
    bad = "11010519491231002Y"
    with pytest.raises(InvalidInput) as info:
        register_subject(
            session,
            actor=TEST_ACTOR,
            vault=runtime.vault,
            kind="person",
            name="李四",
            id_number=bad,
        )
    assert "id_number" in info.value.errors
    assert bad not in repr(info.value.errors) and bad not in str(info.value)


def test_shop_belongs_to_a_platform_member(session, runtime):
    platform = factories.member(session, kind="marketplace", roles=("platform",))
    bank = factories.member(session, kind="bank", roles=("submitter",))
    with pytest.raises(InvalidInput) as info:
        register_subject(
            session,
            actor=TEST_ACTOR,
            vault=runtime.vault,
            kind="shop",
            name="华信数码旗舰店",
            platform=bank,
            shop_id="",
        )
    assert set(info.value.errors) == {"platform", "shop_id"}
    shop = register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        kind="shop",
        name="华信数码旗舰店",
        platform=platform,
        shop_id=" TH100001 ",
        operator_uscc="91310115MA1K3BTP2B",
    )
    assert (shop.platform_member_id, shop.shop_id) == (platform.id, "TH100001")
    assert shop.operator_uscc == "91310115MA1K3BTP2B"
    with pytest.raises(Conflict):
        register_subject(
            session,
            actor=TEST_ACTOR,
            vault=runtime.vault,
            kind="shop",
            name="同号店",
            platform=platform,
            shop_id="TH100001",
        )


def test_all_errors_together(session, runtime):
    with pytest.raises(InvalidInput) as info:
        register_subject(
            session,
            actor=TEST_ACTOR,
            vault=runtime.vault,
            kind="enterprise",
            name="",
            uscc="123",
            region_code="BJ",
        )
    assert set(info.value.errors) == {"name", "uscc", "region_code"}


def test_database_refuses_a_subject_without_its_identifier(session):
    with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
        session.add(Subject(kind="enterprise", name="x", name_normalised="x"))
        session.flush()


def test_rename_keeps_the_name_history(session, runtime, clock):
    subject = register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        kind="enterprise",
        name="北京华信科技有限公司",
        uscc="91110000600037341L",
        now=clock.now(),
    )
    clock.advance(timedelta(days=400))
    rename_subject(
        session,
        actor=TEST_ACTOR,
        subject=subject,
        new_name="北京华信数智科技有限公司",
        now=clock.now(),
    )
    session.expire_all()
    names = session.get(Subject, subject.id).names
    assert [n.name for n in names] == ["北京华信科技有限公司", "北京华信数智科技有限公司"]
    assert names[0].valid_until == clock.now()
    assert names[1].valid_until is None
    assert session.get(Subject, subject.id).revision == 2
