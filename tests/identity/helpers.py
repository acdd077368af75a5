"""Helpers of the identity and back-office tests: ID numbers, images, flows through the views."""

from __future__ import annotations

import io
import time

from django.test import Client
from PIL import Image

from qianshu.accounts.models import User
from qianshu.accounts.sessions import REAUTH_SESSION_KEY
from qianshu.identity.models import VerificationAttempt

# GB 11643-1999, computed here independently of qianshu.identity.idcards.
_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2


def resident_id(region: str = "110101", birth: str = "19900307", seq: str = "123") -> str:
    """A valid 18-character resident ID number with its check character."""
    body = region + birth + seq
    assert len(body) == 17
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True))
    check = (12 - total % 11) % 11
    return body + ("X" if check == 10 else str(check))


def luhn_card(prefix: str, length: int = 16) -> str:
    """A card number of ``length`` digits starting with ``prefix`` and passing Luhn."""
    body = prefix.ljust(length - 1, "0")
    for check in "0123456789":
        candidate = body + check
        total = 0
        for i, c in enumerate(reversed(candidate)):
            v = int(c) * (2 if i % 2 else 1)
            total += v - 9 if v > 9 else v
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def luhn_card_ending(suffix: str, length: int = 16) -> str:
    """A Luhn-valid card number ending in ``suffix`` (the first digits are adjusted)."""
    for lead in range(10**5):
        candidate = f"62{lead:05d}".ljust(length - len(suffix), "1") + suffix
        total = 0
        for i, c in enumerate(reversed(candidate)):
            v = int(c) * (2 if i % 2 else 1)
            total += v - 9 if v > 9 else v
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


GOOD_ID = resident_id()  # 110101199003071234-ish: passes everything in the sandbox
FAIL_ID = resident_id(seq="999")  # sandbox: every check fails
ERROR_ID = resident_id(seq="998")  # sandbox: provider error
GOOD_CARD = luhn_card("6222021234567")
FAIL_CARD = luhn_card_ending("0000")


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (320, 200)) -> bytes:
    image = Image.new("RGB", size, (200, 180, 160))
    for x in range(0, size[0], 7):
        image.putpixel((x, size[1] // 2), (10, 10, 10))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def logged_in(user: User, *, reauth: bool = True) -> Client:
    client = Client()
    client.force_login(user)
    if reauth:
        session = client.session
        session[REAUTH_SESSION_KEY] = int(time.time())
        session.save()
    return client


def declare(
    client: Client,
    *,
    id_type: str = "resident_id",
    name: str = "何建宇",
    id_number: str = GOOD_ID,
    phone: str = "13800000001",
):  # type: ignore[no-untyped-def]
    return client.post(
        "/me/identity/start/",
        {"id_type": id_type, "name": name, "id_number": id_number, "phone": phone},
    )


def verify_with_bank4(
    client: Client, *, id_number: str = GOOD_ID, name: str = "何建宇"
) -> VerificationAttempt:
    """Run step 1 and the bank-card check through the views; return the attempt."""
    response = declare(client, id_number=id_number, name=name)
    assert response.status_code == 302, response.content.decode()
    response = client.post(
        "/me/identity/bank-card/", {"card_number": GOOD_CARD, "phone": "13800000001"}
    )
    assert response.status_code == 302
    return VerificationAttempt.objects.latest("created_at", "id")
