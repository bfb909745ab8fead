"""Division codes read as place names, from the shipped GB/T 2260 list."""

from registry.regions import region_label, region_name


def test_a_code_reads_as_its_full_place_name():
    assert region_name("110105") == "北京市朝阳区"  # a municipality: no 市辖区 in between
    assert region_name("440305") == "广东省深圳市南山区"
    assert region_name("330000") == "浙江省"
    assert region_name("330100") == "浙江省杭州市"
    # A county code the list does not know names the city above it, then the province.
    assert region_name("330199") == "浙江省杭州市"
    assert region_name("339999") == "浙江省"
    assert region_name("999999") is None and region_name(None) is None


def test_pages_show_the_name_with_its_code():
    assert region_label("110105") == "北京市朝阳区 (110105)"
    assert region_label("999999") == "999999" and region_label(None) == "–"


def test_the_public_subject_page_names_the_place(client, session, runtime, clock):
    from registry.subjects import register_subject
    from tests.factories import TEST_ACTOR

    subject = register_subject(
        session,
        actor=TEST_ACTOR,
        vault=runtime.vault,
        now=clock.now(),
        kind="enterprise",
        name="北京华信科技有限公司",
        uscc="91110000600037341L",
        region_code="110105",
    )
    session.commit()
    page = client.get(f"/subjects/{subject.id}").get_data(as_text=True)
    assert "北京市朝阳区 (110105)" in page
