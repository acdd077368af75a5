"""Content-Security-Policy in a real browser (issue 10, item 14): every main page of the app and
of the Django admin, at phone size, works under the policy without one violation (no inline
script, no inline handler, no <style> element, nothing from another origin)."""

from __future__ import annotations

from typing import Any

import pytest

from qianshu.core.meta import TASK
from qianshu.envelopes import compose
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.identity.actions import do_set_signing_pin
from qianshu.orgs.models import Membership
from qianshu.pki.actions import do_init_pki
from qianshu.signing.samples import make_test_pdf
from tests.browser.flows import login_by_sms
from tests.browser.scenario import off_loop
from tests.orgs.conftest import licence_png
from tests.support.accounts import PERSONAS, make_user
from tests.support.personas import grant_seal, make_verified_org, make_verified_person
from tests.support.seals import make_seal

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs before any page script: collects the violations the page itself sees.
_LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.__csp.push(`${event.violatedDirective} ${event.blockedURI} ${where}`);
});
"""


class Walker:
    """Opens pages and keeps every CSP complaint: console messages and violation events."""

    def __init__(self, context: Any) -> None:
        context.add_init_script(_LISTEN)
        self.page = context.new_page()
        self.complaints: list[str] = []
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.complaints.append(f"{self.page.url}: {text}")

    def visit(self, path: str) -> None:
        response = self.page.goto(path)
        assert response is not None and response.status == 200, (path, response)
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        self.page.wait_for_load_state("networkidle")
        seen = self.page.evaluate("window.__csp")
        self.complaints.extend(f"{path}: {entry}" for entry in seen)


def test_main_pages_run_under_the_policy_at_phone_size(new_context: Any) -> None:
    do_init_pki(name="测试平台")
    alice = make_verified_person("alice")
    bob = make_verified_person("bob")
    do_set_signing_pin("482913", actor=bob, meta=TASK)
    org = make_verified_org(alice, name="北京测试科技有限公司", licence=licence_png())
    Membership.objects.create(org=org, user=bob, role=Membership.Role.SEAL_KEEPER)
    seal = make_seal(org, alice)
    grant_seal(seal, bob, alice)
    envelope = compose_actions.do_create_draft(title="采购合同", actor=alice, meta=TASK)
    document = compose_actions.do_add_document(
        envelope, make_test_pdf(pages=2), "合同.pdf", actor=alice, meta=TASK
    )
    compose_actions.do_set_recipients(
        envelope,
        [compose.RecipientInput(role="sign", routing_order=1, name="李博文", phone=bob.phone)],
        actor=alice,
    )
    draft = compose_actions.do_create_draft(title="草稿", actor=alice, meta=TASK)
    compose_actions.do_add_document(
        draft, make_test_pdf(pages=1), "草稿.pdf", actor=alice, meta=TASK
    )
    off_loop(
        compose_actions.do_send_envelope, envelope, actor=alice, meta=TASK
    )  # pyHanko runs asyncio

    anonymous = Walker(new_context("phone"))
    for path in ("/", "/login/", "/login/password/", "/admin/login/"):
        anonymous.visit(path)

    walker = Walker(new_context("phone"))
    login_by_sms(walker.page, PERSONAS["alice"])
    for path in (
        "/",
        "/me/",
        "/me/signatures/",
        "/me/signatures/draw/",
        "/me/identity/",
        "/me/identity/certificate/",
        "/envelopes/",
        "/envelopes/drafts/",
        "/envelopes/new/",
        f"/envelopes/{draft.uuid}/edit/",
        f"/envelopes/{draft.uuid}/fields/",
        f"/envelopes/{envelope.uuid}/",
        "/orgs/",
        "/orgs/new/",
        f"/orgs/{org.uuid}/",
        f"/orgs/{org.uuid}/verify/",
        f"/orgs/{org.uuid}/members/",
        f"/orgs/{org.uuid}/seals/",
        f"/orgs/{org.uuid}/seals/new/",
        f"/orgs/{org.uuid}/grants/",
        f"/orgs/{org.uuid}/usage/",
        "/dev/outbox/",
    ):
        walker.visit(path)
    walker.page.goto(f"/orgs/{org.uuid}/grants/")
    walker.page.locator("#id_seal").select_option(str(seal.pk))  # the moved grant-form script

    signer = Walker(new_context("phone"))
    login_by_sms(signer.page, PERSONAS["bob"])
    for path in (
        f"/envelopes/{envelope.uuid}/sign/",
        f"/orgs/{org.uuid}/my-seals/",
        f"/orgs/{org.uuid}/seals/{seal.uuid}/use/",
        "/me/identity/pin/",
    ):
        signer.visit(path)

    operator = make_user("operator", phone="13900000009", is_staff=True)
    operator.is_superuser = True
    operator.save(update_fields=["is_superuser"])
    staff = Walker(new_context("phone"))
    login_by_sms(staff.page, "13900000009")
    for path in (
        "/backoffice/",
        "/backoffice/identity/",
        "/backoffice/orgs/",
        f"/backoffice/orgs/{org.uuid}/",
        "/admin/",
        "/admin/accounts/user/",
        f"/admin/accounts/user/{alice.pk}/change/",
        "/admin/identity/verificationattempt/",
        "/admin/storage/blob/",
        f"/admin/storage/blob/{document.original_id}/change/",
        "/admin/notifications/outboxmessage/",
    ):
        staff.visit(path)

    assert document.page_count == 2
    complaints = anonymous.complaints + walker.complaints + signer.complaints + staff.complaints
    assert complaints == []
