"""Document number checks (GB 11643 and the other ID types), masking, Luhn and PIN rules."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from qianshu.identity import idcards
from qianshu.identity.idcards import IdType
from qianshu.identity.pins import pin_problem
from tests.identity.helpers import luhn_card, resident_id


@pytest.mark.parametrize(
    "number",
    [
        resident_id(),
        resident_id("440305", "20000229", "001"),  # leap day
        resident_id("820000"[:2] + "0101", "19851231", "456"),  # Macau region code
        "11010519491231002X",  # the example printed in GB 11643 itself
        resident_id("110101", "19900307", "123").lower(),  # lower-case x is accepted
    ],
)
def test_valid_resident_ids(number: str) -> None:
    assert idcards.validate_resident_id(number) == number.upper()


def test_the_check_character_x_is_computed() -> None:
    numbers = [resident_id(seq=f"{i:03d}") for i in range(40)]
    with_x = [n for n in numbers if n.endswith("X")]
    assert with_x, "some sequence numbers must give the check character X"
    for number in with_x:
        assert idcards.validate_resident_id(number.lower()) == number


def test_spaces_are_ignored() -> None:
    number = resident_id()
    spaced = f"{number[:6]} {number[6:14]} {number[14:]}"
    assert idcards.validate_resident_id(spaced) == number


def _wrong_check(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


@pytest.mark.parametrize(
    ("number", "code"),
    [
        (_wrong_check(resident_id()), "id_check_digit"),
        (_wrong_check("11010519491231002X"), "id_check_digit"),
        (resident_id(birth="19900230"), "id_birth_date"),  # 30 February
        (resident_id(birth="19891301"), "id_birth_date"),  # month 13
        (resident_id(birth="18991231"), "id_birth_date"),  # before 1900
        (resident_id("990101"), "id_region"),  # no province 99
        (resident_id("100101"), "id_region"),
        (resident_id("110000")[:2] + "0000" + resident_id("110000")[6:], "id_region"),
        ("1101011990030712", "id_format"),  # 16 digits
        ("11010119900307123Y", "id_format"),
        ("", "id_format"),
    ],
)
def test_invalid_resident_ids(number: str, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        idcards.validate_resident_id(number)
    assert info.value.code == code


def test_birth_date_in_the_future_is_refused() -> None:
    today = dt.date(2024, 5, 1)
    tomorrow = resident_id(birth="20240502")
    with pytest.raises(ValidationError) as info:
        idcards.validate_resident_id(tomorrow, today=today)
    assert info.value.code == "id_birth_date"
    assert idcards.validate_resident_id(resident_id(birth="20240501"), today=today)


@pytest.mark.parametrize(
    ("id_type", "number", "ok"),
    [
        (IdType.PASSPORT, "E12345678", True),
        (IdType.PASSPORT, "ab123", True),
        (IdType.PASSPORT, "A12", False),
        (IdType.PASSPORT, "A" * 18, False),
        (IdType.PASSPORT, "E1234567!", False),
        (IdType.HK_MACAU, "H12345678", True),
        (IdType.HK_MACAU, "M1234567801", True),
        (IdType.HK_MACAU, "C12345678", False),
        (IdType.HK_MACAU, "H123456789", False),
        (IdType.TAIWAN, "12345678", True),
        (IdType.TAIWAN, "1234567890", True),
        (IdType.TAIWAN, "123456789", False),
        (IdType.FOREIGN_PR, "USA123456789012", True),
        (IdType.FOREIGN_PR, "911101199003071234", True),
        (IdType.FOREIGN_PR, "811101199003071234", False),
        (IdType.FOREIGN_PR, "US1234567890123", False),
    ],
)
def test_other_document_formats(id_type: str, number: str, ok: bool) -> None:
    if ok:
        assert idcards.validate_id_number(id_type, number) == number.upper()
    else:
        with pytest.raises(ValidationError):
            idcards.validate_id_number(id_type, number)


def test_masks() -> None:
    assert idcards.mask_number("421127198807126814") == "4211**********6814"
    assert idcards.mask_number("E12345678") == "E1*****78"
    assert idcards.mask_name("何建宇") == "**宇"
    assert idcards.mask_card("6222021234567890") == "**** 7890"


def test_luhn() -> None:
    card = luhn_card("6222021234567")
    assert idcards.validate_card_number(card) == card
    assert idcards.validate_card_number(" ".join([card[:4], card[4:8], card[8:]])) == card
    wrong = card[:-1] + str((int(card[-1]) + 1) % 10)
    with pytest.raises(ValidationError) as info:
        idcards.validate_card_number(wrong)
    assert info.value.code == "card_luhn"
    with pytest.raises(ValidationError):
        idcards.validate_card_number("12345")


BIRTH = dt.date(1990, 3, 7)
NUMBER = resident_id(birth="19900307", seq="481")


@pytest.mark.parametrize(
    ("pin", "why"),
    [
        ("111111", "同一个数字"),
        ("000000", "同一个数字"),
        ("123456", "连续"),
        ("345678", "连续"),
        ("654321", "连续"),
        ("987654", "连续"),
        ("900307", "出生日期"),  # YYMMDD
        ("030790", "出生日期"),  # MMDDYY
        (NUMBER[-6:], "后 6 位"),
        ("12345", "6 位数字"),
        ("12345a", "6 位数字"),
        ("１２３４５６", "6 位数字"),  # full-width digits
    ],
)
def test_trivial_pins_are_refused(pin: str, why: str) -> None:
    problem = pin_problem(pin, birth_date=BIRTH, id_number=NUMBER)
    assert problem is not None and why in problem


@pytest.mark.parametrize("pin", ["482913", "135790", "902137"])
def test_ordinary_pins_are_accepted(pin: str) -> None:
    assert pin_problem(pin, birth_date=BIRTH, id_number=NUMBER) is None
