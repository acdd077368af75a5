"""The demo data of `make run`: verified signers, an organisation with a seal, a sample task."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from qianshu.envelopes.models import Envelope
from qianshu.identity.models import PersonIdentity
from qianshu.orgs.models import Organization
from qianshu.pki.actions import do_init_pki

pytestmark = pytest.mark.django_db


def test_demo_envelope_is_waiting_for_bob(settings: Any) -> None:
    settings.DEBUG = True
    do_init_pki(name="测试平台")
    with pytest.raises(CommandError, match="demo-data"):
        call_command("demo_envelopes", stdout=io.StringIO())
    call_command("demo_data", stdout=io.StringIO())
    out = io.StringIO()
    call_command("demo_envelopes", "--if-absent", stdout=out)
    assert "246813" in out.getvalue()
    envelope = Envelope.objects.get()
    assert envelope.status == Envelope.Status.IN_PROGRESS
    first = envelope.recipients.get(routing_order=1)
    assert first.phone == "13800000002" and first.status == "pending"
    seal_step = envelope.recipients.get(routing_order=2)
    assert seal_step.org is not None and seal_step.org.name == "示例科技有限公司"  # bound
    assert seal_step.org_credit_code == seal_step.org.credit_code
    call_command("demo_envelopes", "--if-absent", stdout=io.StringIO())
    assert Envelope.objects.count() == 1
    # The demo organisation was verified the way a user does it: the legal representative's
    # own authorisation, confirmed by the (sandbox) business registry.
    org = Organization.objects.get(name="示例科技有限公司")
    assert org.status == Organization.Status.VERIFIED and org.method == "legal_rep"
    attempt = org.verifications.get()
    assert attempt.registry_result == "passed" and attempt.evidence == "legal_rep_approved"
    # The people were verified through the identity actions (a face attempt with the sandbox
    # provider), not by writing identity rows.
    identities = PersonIdentity.objects.select_related("attempt")
    assert identities.count() >= 3
    for identity in identities:
        assert identity.attempt is not None, identity.name
        assert (identity.attempt.provider, identity.attempt.method) == ("sandbox", "face")
        assert identity.attempt.status == "passed"


def test_demo_envelopes_refuse_without_debug(settings: Any) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="development only"):
        call_command("demo_envelopes", stdout=io.StringIO())


def test_demo_employment_school_roster_and_employer(settings: Any) -> None:
    from qianshu.employment.models import EmployerApproval, RosterEntry, School
    from qianshu.employment.queries import find_student, is_approved_employer

    settings.DEBUG = True
    do_init_pki(name="测试平台")
    call_command("demo_data", stdout=io.StringIO())
    with pytest.raises(CommandError, match="demo-envelopes"):
        call_command("demo_employment", stdout=io.StringIO())
    call_command("demo_envelopes", stdout=io.StringIO())
    out = io.StringIO()
    call_command("demo_employment", "--if-absent", stdout=out)
    call_command("demo_employment", "--if-absent", stdout=io.StringIO())
    school = School.objects.get()
    assert school.org.name == "示例大学" and school.org.status == Organization.Status.VERIFIED
    bob = RosterEntry.objects.get(name="李博文")
    assert bob.user is not None and bob.user.phone == "13800000002"
    employer = Organization.objects.get(name="示例科技有限公司")
    assert is_approved_employer(employer)
    assert EmployerApproval.objects.count() == 1
    assert find_student(school, 2026, "李博文", "13800000002") == bob
    assert "13800000003" in out.getvalue()
