"""The envelope pages in English: no Chinese left in the interface.

User data (names, titles, file names) is Latin here so that any Chinese on a page is the
interface's own; a completed envelope, a signer's turn and the lists are all looked at.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, TestCase
from django.urls import reverse

from qianshu.core.meta import TASK
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.models import Envelope
from tests.core.test_i18n import visible_cjk
from tests.envelopes.helpers import Builder, sign
from tests.support.personas import make_signer

pytestmark = pytest.mark.django_db


def _english(user: Any) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def _latin_draft(initiator: Any, signer: Any, title: str) -> Envelope:
    return Builder().draft(initiator, [("sign", 1, signer)], title=title, file_stem="contract")


def test_envelope_pages_in_english(pki: None) -> None:
    alice = make_signer("alice", real_name="Alice Wang")
    bob = make_signer("bob", real_name="Bob Li")
    waiting = _latin_draft(alice, bob, "Purchase contract")
    with TestCase.captureOnCommitCallbacks(execute=True):
        compose_actions.do_send_envelope(waiting, actor=alice, meta=TASK)
    done = _latin_draft(alice, bob, "Service agreement")
    with TestCase.captureOnCommitCallbacks(execute=True):
        compose_actions.do_send_envelope(done, actor=alice, meta=TASK)
    sign(done.recipients.get(), bob)
    done.refresh_from_db()
    assert done.status == Envelope.Status.COMPLETED

    pages = {
        bob: [
            reverse("envelopes:list"),
            reverse("envelopes:list") + "?tab=completed",
            reverse("envelopes:sign", args=[waiting.uuid]),
            reverse("envelopes:detail", args=[waiting.uuid]),
            reverse("envelopes:batch-sign") + f"?ids={waiting.uuid}",
        ],
        alice: [
            reverse("envelopes:list") + "?tab=others",
            reverse("envelopes:detail", args=[done.uuid]),
            reverse("envelopes:void", args=[done.uuid]),
            reverse("envelopes:new"),
            reverse("envelopes:drafts"),
        ],
    }
    for user, urls in pages.items():
        client = _english(user)
        for url in urls:
            response = client.get(url, follow=True)
            assert response.status_code == 200, url
            assert response.headers["Content-Language"] == "en", url
            # The signing date stamped into the document is document content, in Chinese.
            text = response.content.decode()
            assert visible_cjk(text) - {"年", "月", "日"} == set(), url
