"""The people of the template tests: the university 北京千书大学 (HR), its administrator alice
(HR 经办人), a member charlie, and bob, a verified signer outside it — all with signing PINs."""

from __future__ import annotations

from typing import Any

import pytest

from qianshu.orgs.models import Membership
from qianshu.pki.actions import do_init_pki
from tests.support.personas import make_signer, make_verified_org

HR = "北京千书大学"


@pytest.fixture
def people(db: Any) -> dict[str, Any]:
    do_init_pki(name="测试平台")
    alice, bob, charlie = make_signer("alice"), make_signer("bob"), make_signer("charlie")
    org = make_verified_org(alice, name=HR)
    Membership.objects.create(org=org, user=charlie, role=Membership.Role.MEMBER)
    return {"alice": alice, "bob": bob, "charlie": charlie, "org": org}
