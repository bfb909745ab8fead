"""USCC (GB 32100-2015), resident ID numbers (GB 11643-1999) and shop ids, as in DOMAIN.md."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.identifiers import (
    USCC_ALPHABET,
    IdentifierError,
    contains_id_number,
    id_number_check_character,
    mask_id_number,
    mask_id_numbers,
    normalize_shop_id,
    uscc_check_character,
    validate_id_number,
    validate_uscc,
)

TODAY = date(2026, 11, 25)


# --- USCC -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["91110000600037341L", "91310115MA1K3BTP2B", "92340602MA2PBMEM24"])
def test_domain_examples_of_valid_usccs(code):
    check = validate_uscc(code)
    assert check.code == code
    assert check.warnings == ()
    assert check.registration_authority == code[0]
    assert check.region_code == code[2:8]


def test_weights_are_the_published_ones():
    # DOMAIN.md: 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28, check = (31 - sum % 31) % 31.
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    first17 = "91110000600037341"
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(first17, weights, strict=True))
    assert uscc_check_character(first17) == USCC_ALPHABET[(31 - total % 31) % 31] == "L"


def test_pilot_code_is_accepted_with_a_warning_and_never_fixed():
    check = validate_uscc("91350100M0001TGQXM")
    assert check.code == "91350100M0001TGQXM"
    assert check.warnings == ("uscc.pilot_checksum",)


def test_pilot_allowance_is_an_explicit_list_not_a_loophole():
    # The same kind of checksum failure on a code nobody listed is an error.
    with pytest.raises(IdentifierError) as caught:
        validate_uscc("91350100M0001TGQXN")
    assert caught.value.code == "uscc.checksum"
    # ...unless the operator names it as a known pilot code.
    assert validate_uscc("91350100M0001TGQXN", known_pilot_codes=["91350100m0001tgqxn"]).warnings


def test_uscc_input_is_normalised_before_checking():
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in "91110000600037341l")
    assert validate_uscc(f" {full_width}\u3000").code == "91110000600037341L"
    assert validate_uscc("9111-0000-6000-3734-1L").code == "91110000600037341L"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("9111000060003734", "uscc.length"),
        ("91110000600037341LX", "uscc.length"),
        ("9111000060003734IL", "uscc.charset"),  # I is not in the alphabet
        ("91110000600037341O", "uscc.charset"),
        ("C1110000600037341L", "uscc.authority"),
        ("911A0000600037341L", "uscc.region"),
        ("91110000600037342L", "uscc.checksum"),
    ],
)
def test_invalid_usccs_name_the_reason(code, reason):
    with pytest.raises(IdentifierError) as caught:
        validate_uscc(code)
    assert caught.value.code == reason


@st.composite
def valid_usccs(draw):
    authority = draw(st.sampled_from("159Y"))
    entity_type = draw(st.sampled_from("123"))
    region = draw(st.text("0123456789", min_size=6, max_size=6))
    organisation = draw(st.text(USCC_ALPHABET, min_size=9, max_size=9))
    first17 = authority + entity_type + region + organisation
    return first17 + uscc_check_character(first17)


@given(valid_usccs())
def test_generated_usccs_validate(code):
    assert validate_uscc(code).code == code


@given(valid_usccs(), st.integers(0, 17), st.sampled_from(USCC_ALPHABET))
def test_every_single_character_change_of_a_uscc_is_rejected(code, position, replacement):
    if code[position] == replacement:
        replacement = USCC_ALPHABET[(USCC_ALPHABET.index(replacement) + 1) % 31]
    changed = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(IdentifierError):
        validate_uscc(changed)


# --- Resident ID numbers ----------------------------------------------------------------


def test_domain_example_id_number():
    check = validate_id_number("11010519491231002X", today=TODAY)
    assert check.region_code == "110105"
    assert check.birth_date == date(1949, 12, 31)
    assert check.sex == "female"  # sequence 002: even


def test_lower_case_x_and_spaces_are_accepted():
    assert validate_id_number(" 110105 19491231 002x ", today=TODAY).number == "11010519491231002X"


def test_masking_keeps_region_prefix_and_last_four():
    assert mask_id_number("11010519491231002X") == "1101**********002X"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("身份证号11010519491231002X。", "身份证号1101**********002X。"),
        ("PAY-11010519491231002x", "PAY-1101**********002X"),
        ("当事人 110105 19491231 002X", "当事人 1101**********002X"),
        ("110105-19491231-002X", "1101**********002X"),
        (
            "".join(chr(ord(c) + 0xFEE0) for c in "11010519491231002X"),  # full-width
            "1101**********002X",
        ),
        ("a 2030 birth 110105203012310026", "a 2030 birth 1101**********0026"),
    ],
)
def test_id_numbers_are_found_in_free_text_however_typed(text, masked):
    assert contains_id_number(text)
    assert mask_id_numbers(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "11010519491231002Y",  # wrong check character
        "110105194912310021",  # wrong check digit
        "110105194902300021",  # 30 February
        "911100006000373410 1234567890123456789012",  # numbers, none an ID number
        "911010519491231002X",  # a number inside a longer run of digits
        "91110000600037341L",  # a USCC
        "",
    ],
)
def test_text_without_an_id_number_is_left_alone(text):
    assert not contains_id_number(text)
    assert mask_id_numbers(text) == text


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("11010519491231002", "id_number.length"),
        ("1101051949123100AX", "id_number.charset"),
        ("01010519491231002X", "id_number.region"),
        ("110105194902300021", "id_number.birth_date"),  # 30 February
        ("110105202712310028", "id_number.birth_date"),  # born after today
        ("110105194912310021", "id_number.checksum"),
    ],
)
def test_invalid_id_numbers_name_the_reason_without_echoing_the_number(number, reason):
    with pytest.raises(IdentifierError) as caught:
        validate_id_number(number, today=TODAY)
    assert caught.value.code == reason
    assert number[:14] not in str(caught.value)


@st.composite
def valid_id_numbers(draw):
    region = draw(st.sampled_from(["110105", "310115", "440305", "510107", "650102"]))
    birth = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    sequence = draw(st.text("0123456789", min_size=3, max_size=3))
    first17 = region + birth.strftime("%Y%m%d") + sequence
    return first17 + id_number_check_character(first17)


@given(valid_id_numbers())
def test_generated_id_numbers_validate(number):
    assert validate_id_number(number, today=TODAY).number == number


@given(valid_id_numbers(), st.integers(0, 17), st.sampled_from("0123456789X"))
def test_every_single_character_change_of_an_id_number_is_rejected(number, position, replacement):
    if number[position] == replacement:
        replacement = "0123456789X"[("0123456789X".index(replacement) + 1) % 11]
    changed = number[:position] + replacement + number[position + 1 :]
    with pytest.raises(IdentifierError) as caught:
        validate_id_number(changed, today=TODAY)
    # Whatever went wrong, the message never carries the number it was given.
    assert changed not in str(caught.value)
    assert number not in str(caught.value)


# --- Shop ids ---------------------------------------------------------------------------


def test_shop_ids_are_normalised_and_checked():
    assert normalize_shop_id(" ｓｈｏｐ－１２３ ") == "shop-123"
    for bad, reason in [
        ("", "shop_id.empty"),
        ("a b", "shop_id.charset"),
        ("x" * 129, "shop_id.length"),
    ]:
        with pytest.raises(IdentifierError) as caught:
            normalize_shop_id(bad)
        assert caught.value.code == reason


def test_the_pilot_list_is_the_registrys_setting(fresh_sqlite_url, make_app):
    from registry.identifiers import DEFAULT_PILOT_USCCS, use_pilot_usccs

    try:
        make_app(fresh_sqlite_url, PILOT_USCCS="91350100m0001tgqxn")
        assert validate_uscc("91350100M0001TGQXN").warnings == ("uscc.pilot_checksum",)
        with pytest.raises(IdentifierError):  # the default one is no longer listed
            validate_uscc("91350100M0001TGQXM")
    finally:
        use_pilot_usccs(DEFAULT_PILOT_USCCS)
    assert validate_uscc("91350100M0001TGQXM").warnings == ("uscc.pilot_checksum",)
