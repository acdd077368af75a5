"""Security and organisation events have typed kinds (issue 12, typed audit): each kind is a
member of ``SecurityAction`` / ``OrgAction`` with a label in words, every call in the source
records a member (no free strings, no f-strings), a kind that is not a member is refused before
anything is written, and the stored value (what the chains' MACs cover) is the plain code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.db import models
from django.utils import translation

import qianshu
from qianshu.accounts.audit import chain_key, check_security_chain, record_event
from qianshu.accounts.models import SecurityAction, SecurityEvent
from qianshu.core.models import AuditChain
from qianshu.orgs.audit import chain_key as org_chain_key
from qianshu.orgs.audit import check_org_chain, record_org_event
from qianshu.orgs.models import OrgAction, OrgEvent
from tests.support.accounts import make_user
from tests.support.personas import make_verified_org

SOURCE = Path(qianshu.__file__).parent
# The function recording each table, the position of its kind argument and its enum.
RECORDERS: dict[str, tuple[int, type[models.TextChoices]]] = {
    "record_event": (0, SecurityAction),
    "record_org_event": (1, OrgAction),
}
ENUMS = {"SecurityAction": SecurityAction, "OrgAction": OrgAction}


def _calls() -> list[tuple[str, int, str, ast.expr]]:
    """Every call of a recorder in the source: file, line, recorder, kind argument."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            if name in RECORDERS:
                position = RECORDERS[name][0]
                kind = node.args[position] if len(node.args) > position else None
                kind = kind or next((k.value for k in node.keywords if k.arg == "action"), None)
                assert kind is not None, f"{path}:{node.lineno} records no kind"
                found.append((str(path.relative_to(SOURCE)), node.lineno, name, kind))
    return found


def _members_named(expr: ast.expr) -> list[tuple[str, str]]:
    """The ``Enum.MEMBER`` references in an expression."""
    return [
        (node.value.id, node.attr)
        for node in ast.walk(expr)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in ENUMS
    ]


def test_every_kind_has_a_label_in_both_languages() -> None:
    for enum in ENUMS.values():
        for member in enum:
            with translation.override("zh-hans"):
                chinese = str(member.label)
            with translation.override("en"):
                english = str(member.label)
            assert chinese and chinese != member.value, member
            assert english and english != chinese and english != member.value, member
    # one table, one label per kind: two kinds reading the same would be indistinguishable
    for enum in ENUMS.values():
        labels = [str(label) for label in enum.labels]
        assert len(set(labels)) == len(labels), enum


def test_every_kind_the_source_records_is_a_member() -> None:
    calls = _calls()
    assert len(calls) > 60  # the scan sees the call sites (accounts, identity, orgs)
    tables = {name for _, _, name, _ in calls}
    assert tables == set(RECORDERS)
    for path, line, name, kind in calls:
        where = f"{path}:{line}"
        free = [
            node
            for node in ast.walk(kind)
            if isinstance(node, ast.JoinedStr)
            or (isinstance(node, ast.Constant) and isinstance(node.value, str))
        ]
        assert not free, f"{where}: {name} with a free string"
        named = _members_named(kind)
        if isinstance(kind, ast.Name):
            continue  # a parameter typed with the enum (checked below and by mypy)
        if isinstance(kind, ast.Subscript):  # a table of members (checked below)
            continue
        assert named, f"{where}: {name} with {ast.unparse(kind)}"
        enum = RECORDERS[name][1]
        for table, member in named:
            assert ENUMS[table] is enum, f"{where}: {name} given a {table}"
            assert member in enum.__members__, f"{where}: {table}.{member} is not a member"


def test_every_enum_reference_in_the_source_names_a_member() -> None:
    """Kinds passed through a parameter (``_remove(action=…)``) or a table (``SETTLED``) are
    members too: every ``SecurityAction.X`` / ``OrgAction.X`` anywhere names one."""
    seen = 0
    for path in SOURCE.rglob("*.py"):
        for table, member in _members_named(ast.parse(path.read_text())):
            if member in {"choices", "values", "labels", "names"}:
                continue
            seen += 1
            assert member in ENUMS[table].__members__, f"{path}: {table}.{member}"
    assert seen > 70


@pytest.mark.django_db
def test_a_kind_that_is_not_a_member_is_refused_and_nothing_is_written() -> None:
    alice = make_user("alice")
    bad = ["phone_change", "identity_verification_pending", "", "LOGIN", None, 3]
    for kind in bad:
        with pytest.raises(ValueError, match="SecurityAction"):
            record_event(kind, user=alice)  # type: ignore[arg-type]
    assert not SecurityEvent.objects.filter(user=alice).exists()
    assert not AuditChain.objects.filter(key=chain_key(alice.pk), count__gt=0).exists()
    org = make_verified_org(alice)
    for kind in [*bad, SecurityAction.LOGIN]:  # a security kind is not an org kind
        with pytest.raises(ValueError, match="OrgAction"):
            record_org_event(org, kind, actor=alice)  # type: ignore[arg-type]
    assert not OrgEvent.objects.filter(org=org).exists()


@pytest.mark.django_db
def test_a_member_is_stored_as_its_plain_code_and_the_chains_hold() -> None:
    alice = make_user("alice")
    event = record_event(SecurityAction.PHONE_CHANGED, user=alice)
    plain = record_event("login", user=alice)  # type: ignore[arg-type]  # a member's value
    org = make_verified_org(alice)
    org_event = record_org_event(org, OrgAction.SEAL_CREATED, actor=alice)
    stored = SecurityEvent.objects.get(pk=event.pk)
    assert type(stored.action) is str and stored.action == "phone_changed"
    assert type(event.action) is str  # what the MAC covered
    assert SecurityEvent.objects.get(pk=plain.pk).action == "login"
    assert OrgEvent.objects.get(pk=org_event.pk).action == "seal_created"
    assert check_security_chain(AuditChain.objects.get(key=chain_key(alice.pk))) == []
    assert check_org_chain(AuditChain.objects.get(key=org_chain_key(org.pk))) == []


def test_a_code_no_member_knows_reads_as_other_never_as_the_code() -> None:
    with translation.override("zh-hans"):
        assert SecurityEvent(action="some_old_kind").action_label == "其他操作"
        assert OrgEvent(action="some_old_kind").action_label == "其他操作"
        assert SecurityEvent(action="login").action_label == "登录"
        assert OrgEvent(action="seal_used").action_label == "使用印章"
    with translation.override("en"):
        assert SecurityEvent(action="login").action_label == "logged in"
