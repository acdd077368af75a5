"""The signing SMS dialog is not held up by a login code sent just before, and neither code
serves the other (issue 12, defect 1)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from qianshu.accounts.actions import do_save_signature
from qianshu.accounts.signatures import SignatureImage
from qianshu.core.meta import TASK
from tests.envelopes.helpers import next_phone, seen
from tests.envelopes.test_sign_views import client_for, sent, submit, url
from tests.support.accounts import sms_code
from tests.support.personas import make_signer, make_verified_person, signature_png

pytestmark = pytest.mark.django_db


def test_a_login_code_does_not_hold_up_the_signing_code_and_neither_serves_the_other(
    pki: None, build: Any, settings: Any
) -> None:
    settings.QIANSHU_OUTBOX_KEEP_SENSITIVE = True
    alice = make_signer("alice")
    zhang = make_verified_person("张伟", next_phone())
    do_save_signature(
        SignatureImage.from_png(signature_png()), source="drawn", actor=zhang, meta=TASK
    )
    envelope = sent(build, alice, [("sign", 1, zhang)])
    recipient = envelope.recipients.get()
    # a login code was just sent to the signer's phone (e.g. on another device)
    anonymous = Client()
    response = anonymous.post(
        "/login/", {"action": "send", "phone": zhang.phone}, headers={"X-Requested-With": "fetch"}
    )
    assert response.status_code == 200
    login_code = sms_code(zhang.phone, "login_code")
    client = client_for(zhang)
    seen_map = {str(k): v for k, v in seen(envelope).items()}
    response = client.post(
        url("sign-code", envelope), json.dumps({"seen": seen_map}), content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["ok"], response.content
    sign_code = sms_code(zhang.phone, "sign_code")
    if sign_code != login_code:
        # attacker: the login code does not confirm a signing …
        refused = submit(client, envelope, recipient, code=login_code)
        assert refused.status_code == 400 and not refused.json()["ok"]
        # … and the signing code does not log anybody in
        response = anonymous.post(
            "/login/", {"action": "login", "phone": zhang.phone, "code": sign_code}
        )
        assert response.status_code == 400 and "_auth_user_id" not in anonymous.session
    assert submit(client, envelope, recipient, code=sign_code).status_code == 200
    recipient.refresh_from_db()
    assert recipient.status == "done"
