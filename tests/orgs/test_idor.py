"""IDOR matrix across two organisations: nobody reaches another organisation's pages or objects,
members do not reach administrators' pages, and a member without a grant cannot use a seal.

World (built per test): organisation A — alice 管理员, bob 用印人 with NO grant, dave 成员 with a
grant of A's seal; organisation B — charlie 管理员, frank 用印人 with no grant, erin 成员 with a
grant of B's seal. Each organisation also has a pending invitation, a verification attempt and a
seal usage record, so that every object a URL can name exists on both sides.

The matrix is driven by ``ROWS``: one row per URL name of the ``orgs`` namespace with who may use
it (``Level``) and the HTTP methods it accepts. URL parameters are filled from the pattern's own
parameter names (``PARAMS``). A row whose name does not exist (yet) is skipped; a URL name that
exists but has no row fails ``test_every_orgs_url_is_in_the_matrix`` — add a row for it.

For each row and method:
* every user who may not use it (outsiders, and members without the role or grant) gets 404 on
  both organisations, and the database does not change;
* the organisation's own URL with the *other* organisation's objects gives 404 even to its
  administrator;
* a user who may use it does not get 404 (so the 404s above are about permissions, not a wrong
  URL).

Verification attempts are not named by any URL (the pages act on the organisation's current
attempt); add ``verification_uuid`` to ``_params`` when one is.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone
from PIL import Image

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.identity.actions import do_set_signing_pin
from qianshu.notifications.models import OutboxMessage
from qianshu.orgs import urls as org_urls
from qianshu.orgs.members import token_hash
from qianshu.orgs.models import (
    Invitation,
    Membership,
    Organization,
    OrgEvent,
    OrgVerification,
    Seal,
    SealGrant,
    SealUsage,
)
from qianshu.signing.samples import make_test_pdf
from qianshu.storage.actions import do_store_blob
from qianshu.storage.models import Blob
from tests.orgs.conftest import client_for
from tests.support.accounts import make_user
from tests.support.seals import make_seal

pytestmark = pytest.mark.django_db

Role = Membership.Role
PIN = "482913"


class Level(enum.Enum):
    ADMIN = "admin"  # administrators of the organisation
    MEMBER = "member"  # every member
    GRANTEE = "grantee"  # only a member with a current grant of the seal in the URL
    ADMIN_OR_GRANTEE = "admin_or_grantee"


@dataclass
class Side:
    """One organisation and its people and objects."""

    org: Organization
    admin: User
    keeper: User  # 用印人 without any grant
    grantee: User  # 成员 with a current grant of ``seal``
    seal: Seal
    grant: SealGrant
    invitation: Invitation
    usage: SealUsage
    others: dict[str, Any] = field(default_factory=dict)

    @property
    def people(self) -> list[User]:
        return [self.admin, self.keeper, self.grantee]

    def allowed(self, level: Level) -> list[User]:
        return {
            Level.ADMIN: [self.admin],
            Level.MEMBER: self.people,
            Level.GRANTEE: [self.grantee],
            Level.ADMIN_OR_GRANTEE: [self.admin, self.grantee],
        }[level]

    def member_of(self, user: User) -> Membership:
        return Membership.objects.get(org=self.org, user=user)


@dataclass(frozen=True)
class Row:
    level: Level
    methods: tuple[str, ...]
    # POST data that would do something if the user were allowed (so "no change" means
    # something); by default an empty form.
    data: Callable[[Side], dict[str, Any]] | None = None
    # Whether the allowed user's POST is expected to get through (see the row's comment).
    positive_post: bool = True


def _member_role_data(side: Side) -> dict[str, Any]:
    return {f"m{side.member_of(side.keeper).pk}-role": Role.ADMIN}


def _seal_use_data(side: Side) -> dict[str, Any]:
    pdf = SimpleUploadedFile("合同.pdf", make_test_pdf(pages=1), "application/pdf")
    return {"document": pdf, "pin": PIN, "position": "bottom_right"}


def _grant_data(side: Side) -> dict[str, Any]:
    now = timezone.localtime()
    return {
        "seal": side.seal.pk,
        "grantee": side.keeper.pk,
        "valid_from": now.strftime("%Y-%m-%dT%H:%M"),
        "valid_until": (now + dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
    }


# Every URL name of the `orgs` namespace that names (or takes) an organisation's object.
ROWS: dict[str, Row] = {
    # members (qianshu.orgs.member_urls)
    "detail": Row(Level.MEMBER, ("GET",)),
    "members": Row(Level.MEMBER, ("GET",)),
    "member-invite": Row(
        Level.ADMIN, ("POST",), lambda s: {"phone": "13900000077", "role": Role.ADMIN}
    ),
    "member-role": Row(Level.ADMIN, ("POST",), _member_role_data),
    "member-remove": Row(Level.ADMIN, ("POST",)),
    "member-transfer": Row(Level.ADMIN, ("POST",)),
    "invitation-revoke": Row(Level.ADMIN, ("POST",)),
    "leave": Row(Level.MEMBER, ("POST",)),
    "switch": Row(Level.MEMBER, ("POST",), lambda s: {"org": str(s.org.uuid)}),
    # grants, my seals, seal use, usage log (qianshu.orgs.grant_urls)
    "grants": Row(Level.ADMIN, ("GET", "POST"), _grant_data),
    "grant-revoke": Row(Level.ADMIN, ("POST",)),
    "my-seals": Row(Level.MEMBER, ("GET",)),
    "my-seal-image": Row(Level.ADMIN_OR_GRANTEE, ("GET",)),
    "seal-use": Row(Level.GRANTEE, ("GET", "POST"), _seal_use_data),
    "usage": Row(Level.ADMIN, ("GET",)),
    "usage-download": Row(Level.ADMIN, ("GET",)),
    # organisation, licence and verification (qianshu.orgs.verification_urls)
    "edit": Row(Level.ADMIN, ("GET", "POST"), lambda s: {"name": "改名有限公司"}),
    "licence": Row(Level.ADMIN, ("GET",)),
    "licence-preview": Row(Level.ADMIN, ("GET",)),
    "verify": Row(Level.ADMIN, ("GET", "POST"), lambda s: {"method": "legal_rep"}),
    "verify-legal-rep": Row(Level.ADMIN, ("GET", "POST"), lambda s: {"action": "send"}),
    "verify-deposit": Row(Level.ADMIN, ("GET", "POST"), lambda s: {"action": "start"}),
    "verify-platform-deposit": Row(Level.ADMIN, ("GET", "POST")),
    "verify-manual": Row(Level.ADMIN, ("POST",)),
    "verify-registry-recheck": Row(Level.ADMIN, ("POST",)),
    # 沙箱银行: POST pays a pending transfer to the platform; there is none in this world, so the
    # allowed administrator gets 404 too (positive control for GET only).
    "verify-sandbox-bank": Row(Level.ADMIN, ("GET", "POST"), positive_post=False),
    # seals (qianshu.orgs.seal_urls)
    "seals": Row(Level.ADMIN, ("GET",)),
    "seal-new": Row(Level.ADMIN, ("GET", "POST"), lambda s: {"kind": Seal.Kind.FINANCE}),
    "seal-preview": Row(Level.ADMIN, ("GET",)),
    "seal-upload": Row(Level.ADMIN, ("GET", "POST")),
    "seal-upload-save": Row(Level.ADMIN, ("POST",)),
    "seal-image": Row(Level.MEMBER, ("GET",)),
    "seal-certificate": Row(Level.ADMIN, ("GET",)),
    "seal-disable": Row(Level.ADMIN, ("POST",)),
    "seal-enable": Row(Level.ADMIN, ("POST",)),
    "seal-destroy": Row(Level.ADMIN, ("GET", "POST"), lambda s: {"confirm_name": s.seal.name}),
}

# URL names that take no organisation object: a one-time token is the capability (tested in
# their own modules: the wrong person is refused there).
NOT_ORG_SCOPED = {
    "list": "lists the user's own organisations only (test_org_list_shows_only_own_orgs)",
    "create": "creates a new organisation; names none",
    "legal-rep-authorise": "the legal representative's authorisation link (verification tests)",
    "invitation": "the invitation link; only the invited phone may answer (test_members)",
    "grant-decision": "the legal representative's approval link (test_grants)",
}


def _params(side: Side) -> dict[str, Any]:
    """Values of URL parameters, by the parameter's name in the URL pattern."""
    return {
        "org_uuid": side.org.uuid,
        "seal_uuid": side.seal.uuid,
        "grant_uuid": side.grant.uuid,
        "member_id": side.member_of(side.keeper).pk,
        "invitation_uuid": side.invitation.uuid,
        "usage_id": side.usage.pk,
    }


def _patterns() -> dict[str, URLPattern]:
    found: dict[str, URLPattern] = {}
    for entry in org_urls.urlpatterns:
        assert not isinstance(entry, URLResolver), "nested includes: extend _patterns()"
        if entry.name:
            found[entry.name] = entry
    return found


def _url(name: str, org_side: Side, object_side: Side | None = None) -> str:
    """The URL of ``name`` with ``org_side``'s organisation and ``object_side``'s objects."""
    pattern = _patterns()[name]
    object_side = object_side or org_side
    names = list(pattern.pattern.converters)  # type: ignore[attr-defined]
    values = _params(object_side)
    missing = [n for n in names if n not in values]
    assert not missing, f"{name}: add a value for URL parameter(s) {missing} to _params()"
    kwargs = {n: values[n] for n in names}
    if "org_uuid" in kwargs:
        kwargs["org_uuid"] = org_side.org.uuid
    return reverse(f"orgs:{name}", kwargs=kwargs)


def _object_params(name: str) -> list[str]:
    return [n for n in _patterns()[name].pattern.converters if n != "org_uuid"]  # type: ignore[attr-defined]


def _snapshot() -> dict[str, list[Any]]:
    models = [
        Organization,
        OrgVerification,
        Membership,
        Invitation,
        Seal,
        SealGrant,
        SealUsage,
        OrgEvent,
        OutboxMessage,
        Blob,
    ]
    return {m.__name__: list(m.objects.order_by("pk").values()) for m in models}


def _png() -> bytes:
    image = Image.new("RGB", (240, 160), "white")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# --- the world ---------------------------------------------------------------------------------


def _build_side(
    verified_person: Callable[..., User],
    verified_org: Callable[..., Organization],
    *,
    org_name: str,
    admin: tuple[str, str],
    keeper: tuple[str, str],
    grantee: tuple[str, str],
) -> Side:
    admin_user = verified_person(admin[0], admin[1])
    org = verified_org(admin_user, name=org_name)
    keeper_user = verified_person(keeper[0], keeper[1])
    do_set_signing_pin(PIN, actor=keeper_user, meta=TASK)
    grantee_user = make_user(grantee[0], phone=grantee[1])
    Membership.objects.create(org=org, user=keeper_user, role=Role.SEAL_KEEPER)
    Membership.objects.create(org=org, user=grantee_user, role=Role.MEMBER)
    seal = make_seal(org, admin_user)
    now = timezone.now()
    grant = SealGrant.objects.create(
        seal=seal,
        grantee=grantee_user,
        granted_by=admin_user,
        valid_from=now - dt.timedelta(hours=1),
        valid_until=now + dt.timedelta(days=30),
    )
    invitation = Invitation.objects.create(
        org=org,
        phone="13900000055",
        role=Role.MEMBER,
        token_hash=token_hash(f"token-{org.pk}"),
        invited_by=admin_user,
        expires_at=now + dt.timedelta(days=7),
    )
    org.licence = do_store_blob(_png(), content_type="image/png")
    org.save(update_fields=["licence"])
    document = do_store_blob(make_test_pdf(pages=1, title=org_name), content_type="application/pdf")
    usage = SealUsage.objects.create(
        seal=seal,
        user=grantee_user,
        grant=grant,
        document_name="合同.pdf",
        document_sha256=hashlib.sha256(document.read()).hexdigest(),
    )
    return Side(org, admin_user, keeper_user, grantee_user, seal, grant, invitation, usage)


@pytest.fixture
def world(
    pki: None,
    verified_person: Callable[..., User],
    verified_org: Callable[..., Organization],
) -> tuple[Side, Side]:
    a = _build_side(
        verified_person,
        verified_org,
        org_name="甲方科技有限公司",
        admin=("alice", "13800000001"),
        keeper=("bob", "13800000002"),
        grantee=("dave", "13800000004"),
    )
    b = _build_side(
        verified_person,
        verified_org,
        org_name="乙方贸易有限公司",
        admin=("charlie", "13800000003"),
        keeper=("frank", "13800000006"),
        grantee=("erin", "13800000005"),
    )
    return a, b


def _client(user: User) -> Client:
    # Freshly re-authenticated: a recent re-authentication must not open anything either.
    return client_for(user)


def _request(client: Client, method: str, url: str, row: Row, side: Side) -> Any:
    if method == "GET":
        return client.get(url)
    data = row.data(side) if row.data else {}
    return client.post(url, data)


# --- the matrix --------------------------------------------------------------------------------


def test_every_orgs_url_is_in_the_matrix() -> None:
    unlisted = sorted(set(_patterns()) - set(ROWS) - set(NOT_ORG_SCOPED))
    assert not unlisted, f"orgs URL names missing from the IDOR matrix (add rows): {unlisted}"


@pytest.mark.parametrize("name", sorted(ROWS))
def test_idor_matrix(name: str, world: tuple[Side, Side]) -> None:
    if name not in _patterns():
        pytest.skip(f"orgs:{name} does not exist yet")
    row = ROWS[name]
    a, b = world
    clients = {user.pk: _client(user) for side in (a, b) for user in side.people}
    failures: list[str] = []

    def expect_404(user: User, method: str, url: str, data_side: Side, why: str) -> None:
        before = _snapshot()
        response = _request(clients[user.pk], method, url, row, data_side)
        if response.status_code != 404:
            failures.append(f"{why}: {user.display_name} {method} {url} → {response.status_code}")
        elif _snapshot() != before:
            failures.append(f"{why}: {user.display_name} {method} {url} changed the database")

    for method in row.methods:
        for side, other in ((a, b), (b, a)):
            url = _url(name, side)
            # Outsiders: every person of the other organisation (charlie on A, alice on B …).
            for user in other.people:
                expect_404(user, method, url, side, "outsider")
            # Members without the role or the grant (bob on A's administrators' pages …).
            for user in side.people:
                if user not in side.allowed(row.level):
                    expect_404(user, method, url, side, "no role/grant")
            # The organisation's own URL naming the other organisation's objects.
            if _object_params(name):
                cross = _url(name, side, other)
                for user in side.allowed(row.level):
                    expect_404(user, method, cross, other, "other org's object")

    # Positive control: the URL is right and the allowed users get through (no 404, no 500).
    for side in (a, b):
        url = _url(name, side)
        for user in side.allowed(row.level):
            if "GET" in row.methods:
                response = clients[user.pk].get(url)
                assert response.status_code not in (404, 500), (user, url, response.status_code)
    if "POST" in row.methods and row.positive_post:  # once, last: it may change the world
        user = a.allowed(row.level)[0]
        response = _request(clients[user.pk], "POST", _url(name, a), row, a)
        assert response.status_code not in (404, 405, 500), (user, name, response.status_code)

    assert not failures, "\n".join(failures)


def test_org_list_shows_only_own_orgs(world: tuple[Side, Side]) -> None:
    if "list" not in _patterns():
        pytest.skip("orgs:list does not exist yet")
    a, b = world
    for side, other in ((a, b), (b, a)):
        for user in side.people:
            text = _client(user).get(reverse("orgs:list")).content.decode()
            assert side.org.name in text
            assert other.org.name not in text and str(other.org.uuid) not in text


# --- using a seal without a grant --------------------------------------------------------------


def test_a_member_without_a_grant_cannot_use_a_seal_by_calling_the_endpoint(
    world: tuple[Side, Side],
) -> None:
    if "seal-use" not in _patterns():
        pytest.skip("orgs:seal-use does not exist yet")
    a, _b = world
    bob = a.keeper  # verified, with a signing PIN, 用印人 of A, no grant
    client = _client(bob)
    url = _url("seal-use", a)
    assert client.get(url).status_code == 404
    before = _snapshot()
    response = client.post(url, _seal_use_data(a))
    assert response.status_code == 404
    assert _snapshot() == before
    assert not SealUsage.objects.filter(user=bob).exists()
    # The administrator holds no grant either.
    assert _client(a.admin).post(url, _seal_use_data(a)).status_code == 404

    # With a grant the same request seals the document …
    now = timezone.now()
    grant = SealGrant.objects.create(
        seal=a.seal,
        grantee=bob,
        granted_by=a.admin,
        valid_from=now - dt.timedelta(minutes=5),
        valid_until=now + dt.timedelta(days=1),
    )
    response = client.post(url, _seal_use_data(a))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert SealUsage.objects.filter(user=bob, grant=grant).count() == 1

    # … and once bob is removed from the organisation (grants revoked with him), 404 again.
    admin = _client(a.admin)
    removed = admin.post(reverse("orgs:member-remove", args=[a.org.uuid, a.member_of(bob).pk]))
    assert removed.status_code == 302
    grant.refresh_from_db()
    assert grant.status == SealGrant.Status.REVOKED
    assert client.post(url, _seal_use_data(a)).status_code == 404
    assert SealUsage.objects.filter(user=bob).count() == 1
