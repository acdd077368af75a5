"""批量签署: one confirmation for many tasks — PIN or one SMS code — each task signed in its own
transaction, tasks that need single signing skipped, idempotent on retry."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from qianshu.accounts.actions import do_save_signature
from qianshu.accounts.models import User
from qianshu.accounts.signatures import SignatureImage
from qianshu.core.meta import TASK as TASK_META
from qianshu.envelopes import access, batch, confirmations, turns
from qianshu.envelopes.actions import batch as batch_actions
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.actions import lifecycle
from qianshu.envelopes.errors import ConfirmationError, EnvelopeError
from qianshu.envelopes.models import Envelope, Field, Recipient, Revision, Submission
from qianshu.pki.platform import load_platform
from qianshu.signing.verify import verify_pdf
from tests.envelopes.helpers import field, with_filled_text
from tests.support.accounts import sms_code
from tests.support.personas import PIN, make_verified_person, real_name, seal_of, signature_png

pytestmark = pytest.mark.django_db


def send(envelope: Envelope) -> Envelope:
    compose_actions.do_send_envelope(envelope, actor=envelope.initiator, meta=TASK_META)
    envelope.refresh_from_db()
    return envelope


def tasks_for(
    build: Any, initiator: User, who: Any, n: int, *, role: str = "sign", **kw: Any
) -> list[Envelope]:
    return [
        send(build.draft(initiator, [(role, 1, who)], title=f"合同{i + 1:02d}", **kw))
        for i in range(n)
    ]


def items_for(
    user: User, envelopes: Sequence[Envelope], seal_choice: dict[str, str] | None = None
) -> list[turns.BatchItem]:
    """What the batch form posts back for the tasks ready to sign."""
    plan = batch.plan_batch(user, [str(e.uuid) for e in envelopes])
    posted = [
        turns.PostedTask(str(t.envelope.uuid), t.recipient.pk, t.key, t.seen)  # type: ignore[union-attr]
        for t in plan.ready
    ]
    return access.access_batch_items(user, posted, seal_choice or {})


def revisions(envelopes: Sequence[Envelope]) -> list[int]:
    return [e.documents.get().revision for e in envelopes]


def test_fifty_tasks_signed_with_one_pin(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelopes = tasks_for(build, alice, bob, 50)
    items = items_for(bob, envelopes)
    assert len(items) == 50
    results = batch_actions.do_batch_sign(items, pin=PIN, actor=bob, meta=TASK_META)
    assert [r.ok for r in results] == [True] * 50, [r.message for r in results if not r.ok]
    assert revisions(envelopes) == [2] * 50
    assert Recipient.objects.filter(envelope__in=envelopes, status="done").count() == 50
    assert Submission.objects.filter(recipient__envelope__in=envelopes).count() == 50
    # each document has its own signature by bob, intact and trusted
    for envelope in envelopes[::17]:
        data = envelope.documents.get().current.read()
        report = verify_pdf(data, load_platform().trust())
        assert report.verdict == "valid", report.reason
        # the platform's certification, then bob's signature and date fields
        assert [s.kind for s in report.signatures] == ["certification", "signature", "signature"]
        assert all(s.intact and s.valid and s.trusted for s in report.signatures)
        assert {s.signer_name for s in report.signatures[1:]} == {real_name(bob)}
        fields = Field.objects.filter(envelope=envelope)
        assert all(f.filled_at is not None for f in fields)
        assert fields.get(kind="date").value == ""  # the date is stamped, not typed


def test_wrong_pin_signs_none(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelopes = tasks_for(build, alice, bob, 3)
    items = items_for(bob, envelopes)
    with pytest.raises(ConfirmationError):
        batch_actions.do_batch_sign(items, pin="000000", actor=bob, meta=TASK_META)
    assert revisions(envelopes) == [1, 1, 1]
    assert not Submission.objects.exists()
    assert Recipient.objects.filter(envelope__in=envelopes, status="pending").count() == 3
    with pytest.raises(ConfirmationError):
        batch_actions.do_batch_sign(items, actor=bob, meta=TASK_META)  # neither PIN nor code


def test_sms_code_batch_for_a_user_without_pin(people: dict, build: Any) -> None:
    alice = people["alice"]
    erin = make_verified_person("erin", "13800000005", real_name="陈一然")
    do_save_signature(
        SignatureImage.from_png(signature_png()), source="drawn", actor=erin, meta=TASK_META
    )
    assert confirmations.needs_code(erin)
    envelopes = tasks_for(build, alice, erin, 3)
    items = items_for(erin, envelopes)
    batch_actions.do_send_batch_code(items, actor=erin, meta=TASK_META)
    code = sms_code(erin.phone)
    # the code is bound to these tasks and hashes: it does not confirm another set
    with pytest.raises(ConfirmationError):
        batch_actions.do_batch_sign(items[:2], code=code, actor=erin, meta=TASK_META)
    results = batch_actions.do_batch_sign(items, code=code, actor=erin, meta=TASK_META)
    assert all(r.ok for r in results), [r.message for r in results]
    assert revisions(envelopes) == [2, 2, 2]
    for envelope in envelopes:
        report = verify_pdf(envelope.documents.get().current.read(), load_platform().trust())
        assert report.verdict == "valid", report.reason
        assert report.signatures[-1].signer_name == "陈一然"
    # one code, one use
    with pytest.raises(ConfirmationError):
        batch_actions.do_batch_sign(items, code=code, actor=erin, meta=TASK_META)


def test_mixed_batch_skips_tasks_that_need_single_signing(
    people: dict, build: Any, seal_org: Any
) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    ready = tasks_for(build, alice, bob, 2)
    free = send(build.draft(alice, [("sign", 1, bob)], fields=False, title="指定位置"))
    text = build.draft(alice, [("sign", 1, bob)], fields=False, title="需要填写")
    recipient = text.recipients.get()
    document = text.documents.get()
    compose_actions.do_set_fields(
        text,
        [
            field(document, recipient, "signature", 0, (40, 40, 160, 88)),
            field(document, recipient, "text", 0, (40, 100, 200, 124)),
        ],
        actor=alice,
    )
    text = send(text)
    approve = send(build.draft(alice, [("approve", 1, bob), ("sign", 2, charlie)], title="审批"))
    later = send(build.draft(alice, [("sign", 1, charlie), ("sign", 2, bob)], title="未轮到"))
    ticked = [ready[0], free, text, approve, later, ready[1]]
    plan = batch.plan_batch(bob, [str(e.uuid) for e in ticked])
    assert [t.envelope for t in plan.ready] == ready
    reasons = {t.envelope.title: t.problem for t in plan.skipped}
    assert "自行指定签署位置" in reasons["指定位置"]
    assert "填写内容" in reasons["需要填写"]
    assert "审批" in reasons["审批"]
    assert "不是您的签署环节" in reasons["未轮到"]
    results = batch_actions.do_batch_sign(
        items_for(bob, ticked), pin=PIN, actor=bob, meta=TASK_META
    )
    assert [r.envelope for r in results] == ready and all(r.ok for r in results)
    assert revisions([free, text, approve, later]) == [1, 1, 1, 1]


def test_a_text_field_filled_by_the_initiator_does_not_need_single_signing(
    people: dict, build: Any
) -> None:
    alice, bob = people["alice"], people["bob"]
    envelope = with_filled_text(build.draft(alice, [("sign", 1, bob)], fields=False))
    send(envelope)
    results = batch_actions.do_batch_sign(
        items_for(bob, [envelope]), pin=PIN, actor=bob, meta=TASK_META
    )
    assert results[0].ok, results[0].message
    assert Field.objects.get(envelope=envelope, kind="text").value == "北京"


def test_a_task_that_is_no_longer_your_turn_fails_alone(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelopes = tasks_for(build, alice, bob, 3)
    items = items_for(bob, envelopes)
    lifecycle.do_recall(envelopes[1], reason="改合同", actor=alice, meta=TASK_META)
    results = batch_actions.do_batch_sign(items, pin=PIN, actor=bob, meta=TASK_META)
    assert [r.ok for r in results] == [True, False, True]
    assert "撤回" in results[1].message
    assert revisions(envelopes) == [2, 1, 2]


def test_a_task_recalled_before_the_page_is_shown_skipped(people: dict, build: Any) -> None:
    """The page finds the user's steps by the envelope status each recipient row carries
    (kept by the database): a task recalled after it was ticked is not offered to sign."""
    alice, bob = people["alice"], people["bob"]
    envelopes = tasks_for(build, alice, bob, 2)
    lifecycle.do_recall(envelopes[0], reason="改合同", actor=alice, meta=TASK_META)
    plan = batch.plan_batch(bob, [str(e.uuid) for e in envelopes])
    assert [t.envelope for t in plan.ready] == [envelopes[1]]
    (skipped,) = plan.skipped
    assert skipped.envelope == envelopes[0] and skipped.recipient is None
    assert "不能再签署" in skipped.problem


def test_a_document_changed_since_the_page_fails_alone(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelopes = tasks_for(build, alice, bob, 2)
    items = items_for(bob, envelopes)
    stale = replace(items[0], seen={k: "0" * 64 for k in items[0].seen})
    results = batch_actions.do_batch_sign([stale, items[1]], pin=PIN, actor=bob, meta=TASK_META)
    assert [r.ok for r in results] == [False, True]
    assert "已更新" in results[0].message


def test_retry_with_the_same_keys_signs_nothing_twice(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelopes = tasks_for(build, alice, bob, 3)
    items = items_for(bob, envelopes)
    first = batch_actions.do_batch_sign(items, pin=PIN, actor=bob, meta=TASK_META)
    again = batch_actions.do_batch_sign(items, pin=PIN, actor=bob, meta=TASK_META)
    assert all(r.ok and not r.repeated for r in first)
    assert all(r.ok and r.repeated for r in again)
    assert revisions(envelopes) == [2, 2, 2]
    assert Revision.objects.filter(action="signed").count() == 3


def test_organisation_tasks_with_the_chosen_seal(people: dict, build: Any, seal_org: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    org = seal_org(alice, "厦门某某供应链有限公司", keeper=charlie)
    envelopes = tasks_for(build, alice, org, 2, role="seal")
    person = tasks_for(build, alice, charlie, 1)
    plan = batch.plan_batch(charlie, [str(e.uuid) for e in [*envelopes, *person]])
    assert len(plan.ready) == 3
    (choice,) = plan.seal_choices()
    assert choice.org == org and choice.default == seal_of(org) and choice.tasks == 2
    items = items_for(charlie, [*envelopes, *person], {str(org.uuid): str(seal_of(org).uuid)})
    results = batch_actions.do_batch_sign(items, pin=PIN, actor=charlie, meta=TASK_META)
    assert all(r.ok for r in results), [r.message for r in results]
    for envelope in envelopes:
        recipient = envelope.recipients.get()
        assert recipient.status == "done" and recipient.seal == seal_of(org)
        report = verify_pdf(envelope.documents.get().current.read(), load_platform().trust())
        assert report.verdict == "valid", report.reason
    # bob holds no grant: the organisation's tasks are not his to seal
    assert items_for(bob, envelopes) == []


def test_a_foreign_seal_choice_fails_that_task_only(
    people: dict, build: Any, seal_org: Any
) -> None:
    alice, charlie = people["alice"], people["charlie"]
    org = seal_org(alice, "厦门某某供应链有限公司", keeper=charlie)
    other = seal_org(alice, "另一家公司", keeper=alice)
    envelopes = tasks_for(build, alice, org, 1, role="seal") + tasks_for(build, alice, charlie, 1)
    items = items_for(charlie, envelopes, {str(org.uuid): str(seal_of(other).uuid)})
    results = batch_actions.do_batch_sign(items, pin=PIN, actor=charlie, meta=TASK_META)
    assert [r.ok for r in results] == [False, True]
    assert "印章" in results[0].message


def test_posted_tasks_of_someone_else_are_dropped(people: dict, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    mine = tasks_for(build, alice, bob, 1)
    theirs = tasks_for(build, alice, charlie, 1)
    plan = batch.plan_batch(charlie, [str(theirs[0].uuid)])
    task = plan.ready[0]
    forged = turns.PostedTask(str(theirs[0].uuid), task.recipient.pk, task.key, task.seen)  # type: ignore[union-attr]
    assert access.access_batch_items(bob, [forged], {}) == []
    assert batch.plan_batch(bob, [str(theirs[0].uuid)]).tasks == []  # not even listed
    assert len(items_for(bob, mine)) == 1


def test_limits(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    items = items_for(bob, tasks_for(build, alice, bob, 1))
    with pytest.raises(EnvelopeError):
        batch_actions.do_batch_sign([], pin=PIN, actor=bob, meta=TASK_META)
    with pytest.raises(EnvelopeError):
        batch_actions.do_batch_sign(
            items * (batch.MAX_ITEMS + 1), pin=PIN, actor=bob, meta=TASK_META
        )
    with pytest.raises(EnvelopeError):
        batch_actions.do_batch_sign(items * 2, pin=PIN, actor=bob, meta=TASK_META)  # one task twice
    assert batch.decode_seen("1:" + "a" * 64) == {1: "a" * 64}
    assert batch.decode_seen("x:y") is None and batch.decode_seen("") is None


def test_pending_items_are_every_task_batch_signing_can_do(
    people: dict, build: Any, seal_org: Any
) -> None:
    alice, bob = people["alice"], people["bob"]
    org = seal_org(alice, "厦门某某供应链有限公司", keeper=bob)
    person = tasks_for(build, alice, bob, 2)
    sealed = tasks_for(build, alice, org, 1, role="seal")
    send(build.draft(alice, [("sign", 1, bob)], fields=False, title="指定位置"))  # needs single
    tasks_for(build, alice, people["charlie"], 1)  # not bob's
    items = batch.pending_items(bob)
    assert {i.recipient.envelope_id for i in items} == {e.pk for e in [*person, *sealed]}
    assert {i.seal_uuid for i in items if i.recipient.role == "seal"} == {str(seal_of(org).uuid)}
    results = batch_actions.do_batch_sign(items, pin=PIN, actor=bob, meta=TASK_META)
    assert all(r.ok for r in results), [r.message for r in results]
    assert batch.pending_items(bob) == []


def test_a_user_without_a_saved_signature_must_sign_singly(people: dict, build: Any) -> None:
    alice = people["alice"]
    frank = make_verified_person("frank", "13800000006", real_name="周凡")
    envelope = tasks_for(build, alice, frank, 1)[0]
    (task,) = batch.plan_batch(frank, [str(envelope.uuid)]).tasks
    assert not task.ready and "手写签名" in task.problem


# --- the pages --------------------------------------------------------------------------------

TASK = re.compile(r'name="task" value="([^"]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def form_data(html: str) -> dict[str, list[str]]:
    data: dict[str, list[str]] = {}
    for name, value in HIDDEN.findall(html):
        data.setdefault(name, []).append(value)
    for name, value in re.findall(
        r'<input type="radio" name="([^"]+)" value="([^"]+)"[^>]* checked', html
    ):
        data[name] = [value]
    return data


def open_batch(client: Client, envelopes: Sequence[Envelope]) -> tuple[str, dict]:
    """The batch page of ``envelopes`` and the data its form posts back."""
    url = reverse("envelopes:batch-sign")
    html = client.get(url, {"ids": [str(e.uuid) for e in envelopes]}).content.decode()
    return html, form_data(html)


def ask_batch_code(client: Client, data: dict) -> Any:
    """获取验证码 on the batch page (as its script does)."""
    return client.post(
        reverse("envelopes:batch-sign"),
        {**data, "action": "send"},
        headers={"X-Requested-With": "fetch"},
    )


def test_batch_pages_from_the_list_to_the_result(people: dict, build: Any) -> None:
    alice, bob = people["alice"], people["bob"]
    envelopes = tasks_for(build, alice, bob, 2)
    free = send(build.draft(alice, [("sign", 1, bob)], fields=False, title="指定位置"))
    client = Client()
    client.force_login(bob)
    ids = [str(e.uuid) for e in [*envelopes, free]]
    # the list's 批量签署 button posts the ticks; the batch page is a GET
    response = client.post(reverse("envelopes:batch-sign"), {"ids": ids})
    assert response.status_code == 302
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert len(TASK.findall(html)) == 2
    assert 'data-testid="batch-skipped-task"' in html and "自行指定签署位置" in html
    assert 'data-testid="batch-signature"' in html and turns.signing_date_text() in html
    data = form_data(html)
    # a wrong PIN: 400 with the reason, nothing signed, the same keys on the page again
    wrong = client.post(
        reverse("envelopes:batch-sign"), {**data, "pin": "111111", "action": "sign"}
    )
    assert wrong.status_code == 400
    assert 'data-testid="batch-error"' in wrong.content.decode()
    assert form_data(wrong.content.decode())["task"] == data["task"]
    assert [k for k in form_data(wrong.content.decode()) if k.startswith("key-")] == [
        k for k in data if k.startswith("key-")
    ]
    assert all(
        form_data(wrong.content.decode())[k] == data[k] for k in data if k.startswith("key-")
    )
    assert revisions(envelopes) == [1, 1]
    # the PIN: signed, then the result page
    done = client.post(reverse("envelopes:batch-sign"), {**data, "pin": PIN, "action": "sign"})
    assert done.status_code == 302 and done["Location"] == reverse("envelopes:batch-result")
    result = client.get(done["Location"]).content.decode()
    assert result.count('data-testid="batch-result-row"') == 3
    assert re.search(r'data-testid="batch-ok-count">2<', result)
    assert "需单独签署" in result
    assert revisions(envelopes) == [2, 2]
    # the same page submitted again signs nothing twice
    again = client.post(reverse("envelopes:batch-sign"), {**data, "pin": PIN, "action": "sign"})
    assert again.status_code == 302
    assert revisions(envelopes) == [2, 2]
    assert "此前已提交签署" in client.get(again["Location"]).content.decode()


def test_the_batch_page_escapes_what_an_initiator_wrote(people: dict, build: Any) -> None:
    """The task lines are made outside the template language: a title that tries to close the
    attribute and open a script — on a task to sign and on one left out — is shown as text,
    and the form still posts back exactly the tasks shown."""
    alice, bob = people["alice"], people["bob"]
    hostile = '合同"><script>alert(1)</script>'
    ready = send(build.draft(alice, [("sign", 1, bob)], title=hostile))
    left = send(build.draft(alice, [("sign", 1, bob)], fields=False, title=hostile + "&"))
    client = Client()
    client.force_login(bob)
    html, data = open_batch(client, [ready, left])
    assert "<script>alert(1)</script>" not in html
    escaped = "合同&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    assert f'<div class="batch-title">{escaped}</div>' in html
    assert f'<div class="batch-title">{escaped}&amp;</div>' in html
    assert len(TASK.findall(html)) == 1 and 'data-testid="batch-skipped-task"' in html
    assert data["ids"] == [str(ready.uuid), str(left.uuid)]
    done = client.post(reverse("envelopes:batch-sign"), {**data, "pin": PIN, "action": "sign"})
    assert done.status_code == 302
    assert revisions([ready, left]) == [2, 1]


def test_the_batch_page_names_each_initiator_as_the_lists_do(people: dict, build: Any) -> None:
    """发起方 on a task of the batch page is read from the envelope's row (no objects of the
    initiator): the same label as everywhere else — the organisation sent for, the verified
    name, else the display name, else the masked phone — and escaped; by the ids ticked and by
    全部批量签署."""
    from django.utils.html import escape

    from qianshu.envelopes.routing import initiator_label
    from tests.support.accounts import make_user
    from tests.support.personas import make_verified_org

    alice, bob = people["alice"], people["bob"]
    org = make_verified_org(alice, name='<b>武汉"理工"</b>大学')
    envelopes = [
        send(build.draft(alice, [("sign", 1, bob)], title="个人发起")),
        send(build.draft(alice, [("sign", 1, bob)], title="组织发起", org=org)),
        send(build.draft(alice, [("sign", 1, bob)], title="未认证的发起人")),
        send(build.draft(alice, [("sign", 1, bob)], title="没有名字的发起人")),
    ]
    # Envelopes sent before sending needed a verified initiator (as older ones were).
    named, nameless = make_user("赵大卫", phone="13900000071"), make_user("", phone="13900000072")
    Envelope.objects.filter(pk=envelopes[2].pk).update(initiator=named)
    Envelope.objects.filter(pk=envelopes[3].pk).update(initiator=nameless)
    labels = [initiator_label(Envelope.objects.get(pk=e.pk)) for e in envelopes]
    assert labels == [real_name(alice), org.name, "赵大卫", "139****0072"]
    client = Client()
    client.force_login(bob)
    ticked, _data = open_batch(client, envelopes)
    everything = client.get(reverse("envelopes:batch-sign"), {"all": "1"}).content.decode()
    for html in (ticked, everything):
        assert len(TASK.findall(html)) == 4
        for label in labels:
            assert f"<span>发起方: {escape(label)}</span>" in html
        assert "<b>" not in html.split('data-testid="batch-form"')[1]


def test_batch_page_with_sms_code(people: dict, build: Any) -> None:
    alice = people["alice"]
    erin = make_verified_person("erin", "13800000005", real_name="陈一然")
    do_save_signature(
        SignatureImage.from_png(signature_png()), source="drawn", actor=erin, meta=TASK_META
    )
    envelopes = tasks_for(build, alice, erin, 2)
    client = Client()
    client.force_login(erin)
    html, data = open_batch(client, envelopes)
    assert 'data-testid="batch-send-code"' in html and 'name="pin"' not in html
    sent = ask_batch_code(client, data)
    assert sent.status_code == 200 and sent.json()["ok"]
    code = sms_code(erin.phone)
    done = client.post(reverse("envelopes:batch-sign"), {**data, "code": code, "action": "sign"})
    assert done.status_code == 302
    assert revisions(envelopes) == [2, 2]


def test_batch_page_bad_input(people: dict, build: Any) -> None:
    bob = people["bob"]
    client = Client()
    client.force_login(bob)
    url = reverse("envelopes:batch-sign")
    assert client.get(url).status_code == 302  # nothing ticked
    assert client.get(url, {"ids": ["nonsense"]}).status_code == 302
    many = [str(__import__("uuid").uuid4()) for _ in range(batch.MAX_BATCH + 1)]
    assert client.get(url, {"ids": many}).status_code == 302
    # unknown ids: an empty page, not an error
    page = client.get(url, {"ids": many[:2]})
    assert page.status_code == 200 and 'data-testid="batch-nothing"' in page.content.decode()
    # a forged form: nothing to sign, a message
    forged = client.post(
        url,
        {
            "ids": many[:1],
            "task": [f"{many[0]}:1", "garbage"],
            f"key-{many[0]}": "x",
            "action": "sign",
            "pin": PIN,
        },
    )
    assert forged.status_code == 400
    assert client.get(reverse("envelopes:batch-result")).status_code == 302


def test_sign_all_takes_every_task_of_the_filtered_list_in_one_confirmation(
    people: dict, build: Any
) -> None:
    """全部签署: more tasks than one page of ticks (the old limit was 50), found by the server
    from the list's filters — no long URL of ids — and signed with one PIN; a task outside
    the filter is left alone."""
    alice, bob = people["alice"], people["bob"]
    envelopes = tasks_for(build, alice, bob, 55, pages=1)
    other = send(build.draft(alice, [("sign", 1, bob)], title="另一份", pages=1))
    client = Client()
    client.force_login(bob)
    listed = client.get(reverse("envelopes:list"), {"tab": "todo", "q": "合同"}).content.decode()
    link = re.search(r'href="([^"]+)" data-testid="batch-sign-all"', listed)
    assert link and "全部签署（55）" in listed
    html = client.get(link.group(1).replace("&amp;", "&")).content.decode()
    assert len(TASK.findall(html)) == 55
    data = form_data(html)
    done = client.post(reverse("envelopes:batch-sign"), {**data, "pin": PIN, "action": "sign"})
    assert done.status_code == 302
    assert revisions(envelopes) == [2] * 55
    assert revisions([other]) == [1]
