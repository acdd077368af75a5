"""The UI speaks Simplified Chinese by default and English when switched."""

from __future__ import annotations

import ast
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone, translation

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.orgs.actions.deposits import do_request_platform_deposit
from qianshu.orgs.actions.grants import do_grant_seal, do_revoke_grant
from qianshu.orgs.actions.legal_rep import do_request_legal_rep_authorisation
from qianshu.orgs.actions.members import do_invite_member
from qianshu.orgs.models import Membership, Organization, Seal, SealUsage
from qianshu.pki.actions import do_init_pki
from qianshu.storage.blobs import reset_blob_store_cache
from tests.orgs.conftest import licence_png
from tests.support.accounts import latest_sms, make_user
from tests.support.personas import make_verified_org, make_verified_person
from tests.support.seals import make_seal

pytestmark = pytest.mark.django_db

SOURCE = Path(__file__).resolve().parents[2] / "src/qianshu"
LOCALE = SOURCE / "locale/en/LC_MESSAGES"

CJK = re.compile(r"[\u3400-\u9fff\uff01-\uff5e\u3001-\u3011]")
# The language switch shows the other language's own name; the brand mark is a seal character.
ALLOWED = {"中文", "签"}


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    # An English request leaves English active in this thread; later tests expect the default.
    yield
    translation.deactivate()


def visible_cjk(html: str) -> set[str]:
    text = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    runs = set(re.findall(r"[\u3400-\u9fff\uff01-\uff5e\u3001-\u3011]+", text))
    return runs - ALLOWED


@pytest.mark.parametrize("url", ["/", "/login/", "/login/password/", "/help/", "/privacy/"])
def test_public_pages_in_english(url: str) -> None:
    client = Client(headers={"accept-language": "en"})
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "en"
    assert visible_cjk(response.content.decode()) == set()


@pytest.mark.parametrize(
    "url",
    [
        "/me/",
        "/me/email/",
        "/me/password/",
        "/me/reauth/",
        "/me/identity/",
        "/me/identity/start/",
        "/me/identity/pin/",
        "/me/identity/certificate/",
        "/me/signatures/",
        "/me/signatures/draw/",
        "/me/signatures/upload/",
    ],
)
def test_user_centre_in_english(url: str) -> None:
    client = Client(headers={"accept-language": "en"})
    client.force_login(make_user("alice"))
    response = client.get(url, follow=True)
    assert response.status_code == 200
    assert visible_cjk(response.content.decode()) == set()


def test_chinese_is_the_default() -> None:
    response = Client().get("/login/")
    assert response.headers["Content-Language"] == "zh-hans"
    assert "获取验证码" in response.content.decode()


def test_back_office_in_english() -> None:
    client = Client(headers={"accept-language": "en"})
    client.force_login(make_user("operator", phone="13900000000", is_staff=True))
    for url in ["/backoffice/", "/backoffice/identity/"]:
        response = client.get(url)
        assert response.status_code == 200
        assert visible_cjk(response.content.decode()) == set()


def test_english_catalogue_is_complete_and_compiled(tmp_path: Path) -> None:
    """Every entry translated, none fuzzy, and the committed .mo is the compiled .po."""
    po = LOCALE / "django.po"
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", str(tmp_path / "django.mo"), str(po)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr
    assert (tmp_path / "django.mo").read_bytes() == (LOCALE / "django.mo").read_bytes(), (
        "django.mo is stale: run `make messages`"
    )


# --- every source string is in the catalogue ----------------------------------------------


def po_entries(path: Path) -> set[tuple[str, str, str]]:
    """(msgctxt, msgid, msgid_plural) of each live entry of a .po file, without the header."""
    entries = set()
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line.startswith("#"):  # comments, flags and obsolete (#~) entries
                continue
            keyword, _, rest = line.partition(" ")
            if not line.startswith('"'):
                key, line = keyword, rest
            fields[key] = fields.get(key, "") + ast.literal_eval(line)
        if fields.get("msgid"):
            entries.add(
                (fields.get("msgctxt", ""), fields["msgid"], fields.get("msgid_plural", ""))
            )
    return entries


# The Makefile's `messages` target.
MAKEMESSAGES = [
    "makemessages",
    "-l",
    "en",
    "--no-obsolete",
    "--no-location",
    "--ignore",
    "signing/*",
    "--ignore",
    "migrations/*",
]


def test_every_source_string_is_in_the_catalogue(tmp_path: Path) -> None:
    """makemessages on a copy of the source (the Makefile's flags) finds no msgid that
    django.po lacks: a new or changed string needs `make messages` and its translation."""
    copy = tmp_path / "qianshu"
    shutil.copytree(SOURCE, copy, ignore=shutil.ignore_patterns("__pycache__", "locale"))
    (copy / "locale").mkdir()
    # No settings: as in the Makefile, and LOCALE_PATHS must not point at the real catalogue.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    subprocess.run(
        [sys.executable, "-m", "django", *MAKEMESSAGES],
        cwd=copy,
        env=env,
        capture_output=True,
        check=True,
    )
    found = po_entries(copy / "locale/en/LC_MESSAGES/django.po")
    assert len(found) > 1000  # the copy was really scanned
    missing = sorted(found - po_entries(LOCALE / "django.po"))
    assert missing == [], "not in django.po (run `make messages` and translate):\n" + "\n".join(
        f"  {ctxt + ' | ' if ctxt else ''}{msgid}" for ctxt, msgid, _plural in missing
    )


# --- the organisation area in English -----------------------------------------------------

# User data in Latin letters, so that only the interface could bring Chinese onto the page.
ORG_NAME = "Example Tech Co"
LEGAL_REP = "Lena Legal"
LEGAL_REP_PHONE = "13800000031"
INVITEE_PHONE = "13800000041"


def english(user: User) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def sms_path(phone: str, kind: str) -> str:
    body = latest_sms(phone, kind).body
    match = re.search(r"https?://[^/\s]+(/\S+/)", body)
    assert match, body
    return match.group(1)


def cjk_on(client: Client, urls: list[str]) -> dict[str, set[str]]:
    """The Chinese left on each page of ``urls`` (each must answer 200)."""
    found = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Content-Language"] == "en", url
        if cjk := visible_cjk(response.content.decode()):
            found[url] = cjk
    return found


@pytest.fixture
def org_area(settings: Any, tmp_path: Path) -> dict[str, Any]:
    """A verified organisation with members, seals in every state, grants, an invitation and a
    use; two unverified ones (legal representative asked; platform deposit waiting)."""
    settings.QIANSHU_STORAGE = "local"
    settings.QIANSHU_STORAGE_DIR = tmp_path / "blobs"
    settings.QIANSHU_OUTBOX_KEEP_SENSITIVE = True
    settings.QIANSHU_PLATFORM_BANK_NAME = "Test Bank Beijing Branch"
    settings.QIANSHU_PLATFORM_ACCOUNT_NAME = "Qianshu Test Account"
    reset_blob_store_cache()
    do_init_pki(name="Test Platform")
    admin = make_verified_person("alice", real_name="Alice Example")
    bob = make_verified_person("bob", real_name="Bob Example")
    charlie = make_verified_person("charlie", real_name="Charlie Example")
    legal_rep = make_verified_person("lena", LEGAL_REP_PHONE, real_name=LEGAL_REP)
    org = make_verified_org(admin, name=ORG_NAME, legal_rep_name=LEGAL_REP)
    Membership.objects.create(org=org, user=bob, role=Membership.Role.SEAL_KEEPER)
    Membership.objects.create(org=org, user=charlie, role=Membership.Role.MEMBER)

    seal = make_seal(org, admin, kind=Seal.Kind.CONTRACT, name="Contract Seal")
    make_seal(org, admin, kind=Seal.Kind.FINANCE, name="Finance Seal", status=Seal.Status.DISABLED)
    destroyed = make_seal(org, admin, kind=Seal.Kind.HR, name="HR Seal")
    Seal.objects.filter(pk=destroyed.pk).update(
        status=Seal.Status.DESTROYED, destroyed_at=timezone.now()
    )
    personal = make_seal(org, admin, kind=Seal.Kind.LEGAL_REP, name="Legal Rep Seal")
    now = timezone.now()
    period = {"valid_from": now - dt.timedelta(hours=1), "valid_until": now + dt.timedelta(days=30)}
    grant = do_grant_seal(org, seal, bob, **period, actor=admin, meta=TASK)
    do_grant_seal(org, seal, admin, **period, actor=admin, meta=TASK)
    do_revoke_grant(
        do_grant_seal(org, seal, charlie, **period, actor=admin, meta=TASK), actor=admin, meta=TASK
    )
    do_grant_seal(
        org, personal, bob, **period, legal_rep_phone=LEGAL_REP_PHONE, actor=admin, meta=TASK
    )
    SealUsage.objects.create(
        seal=seal, user=bob, grant=grant, document_name="contract.pdf", document_sha256="0" * 64
    )
    _invitation, invitation_token = do_invite_member(
        org, INVITEE_PHONE, Membership.Role.SEAL_KEEPER, actor=admin, meta=TASK
    )

    draft = make_verified_org(
        admin,
        name="Example Draft Co",
        legal_rep_name=LEGAL_REP,
        status=Organization.Status.DRAFT,
        licence=licence_png(),
    )
    do_request_legal_rep_authorisation(draft, LEGAL_REP_PHONE, actor=admin, meta=TASK)
    paying = make_verified_org(
        admin,
        name="Example Paying Co",
        legal_rep_name=LEGAL_REP,
        status=Organization.Status.DRAFT,
        licence=licence_png(),
    )
    do_request_platform_deposit(paying, actor=admin, meta=TASK)
    return {
        "admin": admin,
        "legal_rep": legal_rep,
        "invitee": make_user("dora", phone=INVITEE_PHONE),
        "org": org,
        "seal": seal,
        "draft": draft,
        "paying": paying,
        "invitation": f"/orgs/invitations/{invitation_token}/",
        "legal_rep_link": sms_path(LEGAL_REP_PHONE, "legal_rep_authorisation"),
        "grant_link": sms_path(LEGAL_REP_PHONE, "seal_grant_approval"),
    }


def test_organisation_pages_in_english(org_area: dict[str, Any]) -> None:
    org, draft, paying = (f"/orgs/{org_area[key].uuid}" for key in ("org", "draft", "paying"))
    urls = [
        "/orgs/",
        "/orgs/new/",
        f"{org}/",
        f"{org}/members/",
        f"{org}/seals/",
        f"{org}/seals/new/",
        f"{org}/seals/new/?kind=contract",
        f"{org}/seals/new/?kind=legal_rep",
        f"{org}/seals/upload/",
        f"{org}/grants/",
        f"{org}/my-seals/",
        f"{org}/seals/{org_area['seal'].uuid}/use/",
        f"{org}/usage/",
        f"{org}/verify/",
        f"{draft}/",
        f"{draft}/verify/",
        f"{draft}/edit/",
        f"{draft}/verify/legal-rep/",
        f"{draft}/verify/deposit/",
        f"{paying}/verify/",
        f"{paying}/verify/platform-deposit/",
    ]
    assert cjk_on(english(org_area["admin"]), urls) == {}


def test_legal_representative_and_invitee_pages_in_english(org_area: dict[str, Any]) -> None:
    legal_rep = english(org_area["legal_rep"])
    assert cjk_on(legal_rep, [org_area["legal_rep_link"], org_area["grant_link"]]) == {}
    assert cjk_on(english(org_area["invitee"]), [org_area["invitation"]]) == {}


def test_back_office_organisation_review_in_english(org_area: dict[str, Any]) -> None:
    staff = english(make_user("operator", phone="13900000000", is_staff=True))
    review = f"/backoffice/orgs/{org_area['paying'].uuid}/"
    assert cjk_on(staff, ["/backoffice/orgs/", review]) == {}
    assert "Example Paying Co" in staff.get("/backoffice/orgs/").content.decode()
