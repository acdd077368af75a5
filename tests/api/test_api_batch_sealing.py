"""批量用印 (``POST /api/v1/envelopes/seal-batch``): one call seals many of the organisation's
seal steps with the key's granted seal, each as the single call would — and refuses, step by
step, what the single call refuses. Written as an attacker would try it: another
organisation's step (one of the same name too), a person's step, a step whose turn has not
come, a malformed or mismatched id, the same step twice, a key without a grant or without the
write scope, a call sent again (with its answer lost), and the grant revoked halfway."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, TestCase

from qianshu.api.actions import seals as seal_actions
from qianshu.api.actions.keys import do_create_api_key
from qianshu.api.models import IdempotentRequest, Scope
from qianshu.api.schemas import MAX_SEAL_BATCH
from qianshu.core.meta import TASK
from qianshu.envelopes.actions import turns
from qianshu.envelopes.audit import check_chain
from qianshu.envelopes.models import Envelope, Recipient
from qianshu.notifications.models import OutboxMessage
from qianshu.orgs.models import SealUsage
from tests.api.helpers import check_openapi, problem_of
from tests.api.test_api_sealing import BUYER, _envelope, _grant, _seal_step, world
from tests.envelopes.helpers import sign
from tests.support.personas import make_signer, make_verified_org, real_name, valid_credit_code
from tests.support.seals import make_seal

__all__ = ["world"]  # the fixture, shared with test_api_sealing

pytestmark = pytest.mark.django_db

BATCH_PATH = "/api/v1/envelopes/seal-batch"


def _ready(w: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """``n`` envelopes whose seal step's turn has come (bob signed first)."""
    envelopes = []
    for _ in range(n):
        envelope = _envelope(w)
        sign(Envelope.objects.get(uuid=envelope["id"]).recipients.get(role="sign"), w["bob"])
        envelopes.append(envelope)
    return envelopes


def _step(envelope: dict[str, Any], recipient_id: int | None = None) -> dict[str, Any]:
    return {"envelope_id": envelope["id"], "recipient_id": recipient_id or _seal_step(envelope)}


def _batch(api: Client, steps: list[dict[str, Any]], **headers: str) -> Any:
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return api.post(BATCH_PATH, {"steps": steps}, content_type="application/json", **extra)


def test_one_call_seals_the_steps_it_may_and_refuses_each_other_one(
    world: dict[str, Any], openapi: dict[str, Any]
) -> None:
    _grant(world)
    ready = _ready(world, 3)
    waiting = _envelope(world)  # bob has not signed: not the seal step's turn yet
    person = next(r["id"] for r in waiting["recipients"] if r["role"] == "signer")
    # Another organisation of the same name, with its own key and seal, sends its own envelope.
    charlie = make_signer("charlie")
    twin = make_verified_org(charlie, name=BUYER, credit_code=valid_credit_code())
    _key, twin_plain = do_create_api_key(
        twin, name="采购系统", scopes=list(Scope.values), actor=charlie, meta=TASK
    )
    make_seal(twin, charlie)
    foreign = _envelope(
        {**world, "api": Client(HTTP_AUTHORIZATION=f"Bearer {twin_plain}"), "org": twin}
    )
    steps = [
        _step(ready[0]),
        _step(waiting),
        _step(waiting, person),
        _step(foreign),
        {"envelope_id": "not-an-id", "recipient_id": _seal_step(ready[1])},
        _step(ready[1], _seal_step(ready[2])),  # a real step, named with the wrong envelope
        _step(ready[1]),
        _step(ready[2]),
    ]
    answer = _batch(world["api"], steps, **{"Idempotency-Key": "day-1"})
    check_openapi(openapi, BATCH_PATH, "post", answer)
    assert answer.status_code == 200, answer.content
    body = json.loads(answer.content)
    assert [(r["ok"], r["code"]) for r in body["results"]] == [
        (True, None),
        (False, "not_your_turn"),
        (False, "seal_not_allowed"),
        (False, "not_found"),
        (False, "not_found"),
        (False, "not_found"),
        (True, None),
        (True, None),
    ]
    assert (body["sealed"], body["refused"]) == (3, 5)
    assert [r["envelope_id"] for r in body["results"]] == [s["envelope_id"] for s in steps]
    assert body["results"][3]["status"] is None and body["results"][0]["status"]
    assert all(r["detail"] for r in body["results"] if not r["ok"])
    # Exactly the three steps were sealed, with the key's seal; nothing else moved.
    assert SealUsage.objects.filter(seal=world["seal"]).count() == 3
    for envelope in ready:
        step = Recipient.objects.get(pk=_seal_step(envelope))
        assert step.status == Recipient.Status.DONE and step.seal == world["seal"]
        assert Envelope.objects.get(uuid=envelope["id"]).status == Envelope.Status.COMPLETED
        assert check_chain(Envelope.objects.get(uuid=envelope["id"])) is None
    assert not Recipient.objects.filter(envelope__uuid=waiting["id"], status="done").exists()
    assert not Recipient.objects.filter(envelope__uuid=foreign["id"], status="done").exists()


def test_a_call_sent_again_seals_nothing_twice(world: dict[str, Any]) -> None:
    """The same call with the same Idempotency-Key is the first answer; if that answer was
    lost (the caller never got it), the call runs again and every step is ``repeated``."""
    _grant(world)
    ready = _ready(world, 2)
    steps = [_step(envelope) for envelope in ready]
    first = json.loads(_batch(world["api"], steps, **{"Idempotency-Key": "day-2"}).content)
    assert [r["ok"] and not r["repeated"] for r in first["results"]] == [True, True]
    replayed = _batch(world["api"], steps, **{"Idempotency-Key": "day-2"})
    assert replayed["Idempotent-Replayed"] == "true"
    assert json.loads(replayed.content) == first
    IdempotentRequest.objects.all().delete()  # the stored answer lost
    again = json.loads(_batch(world["api"], steps, **{"Idempotency-Key": "day-2"}).content)
    assert [(r["ok"], r["repeated"]) for r in again["results"]] == [(True, True)] * 2
    assert SealUsage.objects.count() == 2
    # Another Idempotency-Key is another call: the steps are done, each is refused.
    other = json.loads(_batch(world["api"], steps, **{"Idempotency-Key": "day-3"}).content)
    assert [r["code"] for r in other["results"]] == ["not_your_turn"] * 2
    assert SealUsage.objects.count() == 2


def test_a_step_submitted_after_the_calls_look_up_is_still_sealed_once(
    world: dict[str, Any],
) -> None:
    """A call looks up once which of its steps were submitted before; a step whose key was
    submitted after that look-up (the same call racing itself) is found again with its rows
    locked: repeated, never sealed twice."""
    grant = _grant(world)
    (envelope,) = _ready(world, 1)
    step = Recipient.objects.select_related("envelope").get(pk=_seal_step(envelope))
    looked_up = turns.submitted_before([(step, "race-1")])
    assert looked_up == frozenset()
    first = turns.do_seal_with_grant(step, grant, key="race-1", agent="采购系统", meta=TASK)
    assert not first.repeated
    step = Recipient.objects.select_related("envelope").get(pk=step.pk)
    again = turns.do_seal_with_grant(
        step, grant, key="race-1", agent="采购系统", submitted=looked_up, meta=TASK
    )
    assert again.repeated
    assert SealUsage.objects.count() == 1
    assert check_chain(step.envelope) is None
    # Found by the look-up, the step is answered without being locked at all.
    assert turns.submitted_before([(step, "race-1")]) == {(step.pk, "race-1")}


def test_what_refuses_the_whole_call(world: dict[str, Any]) -> None:
    ready = _ready(world, 1)
    # No grant: nothing is sealed.
    problem_of(_batch(world["api"], [_step(ready[0])]), 403, "seal_not_allowed")
    _grant(world)
    # The same step twice, none, too many, or not JSON.
    problem_of(_batch(world["api"], [_step(ready[0])] * 2), 400, "invalid_envelope")
    problem_of(_batch(world["api"], []), 400, "invalid_request")
    many = [{"envelope_id": ready[0]["id"], "recipient_id": i} for i in range(MAX_SEAL_BATCH + 1)]
    problem_of(_batch(world["api"], many), 400, "invalid_request")
    bad = world["api"].post(BATCH_PATH, "steps", content_type="application/json")
    problem_of(bad, 400, "invalid_request")
    # A read-only key of the same organisation.
    _reader, plain = do_create_api_key(
        world["org"], name="报表", scopes=["envelopes:read"], actor=world["alice"], meta=TASK
    )
    reader = Client(HTTP_AUTHORIZATION=f"Bearer {plain}")
    problem_of(_batch(reader, [_step(ready[0])]), 403, "scope_missing")
    assert SealUsage.objects.count() == 0


def test_a_grant_revoked_halfway_refuses_the_steps_after_it(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each step checks the grant again with its rows locked: revoked after the first step,
    the others are refused."""
    from qianshu.envelopes.actions import turns
    from qianshu.orgs.actions.grants import do_revoke_grant

    grant = _grant(world)
    ready = _ready(world, 3)
    sealed = turns.do_seal_with_grant

    def then_revoke(*args: Any, **kwargs: Any) -> Any:
        outcome = sealed(*args, **kwargs)
        if grant.status == grant.Status.ACTIVE:
            do_revoke_grant(grant, actor=world["alice"], meta=TASK)
        return outcome

    monkeypatch.setattr(seal_actions, "do_seal_with_grant", then_revoke)
    body = json.loads(_batch(world["api"], [_step(e) for e in ready]).content)
    assert [(r["ok"], r["code"]) for r in body["results"]] == [
        (True, None),
        (False, "seal_not_allowed"),
        (False, "seal_not_allowed"),
    ]
    assert SealUsage.objects.count() == 1


def test_the_seals_signer_is_kept_for_the_call_but_a_revoked_certificate_stops_it(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The call loads the seal's key once for all its steps; the seal certificate revoked
    after the first step (as by the PKI's operator) refuses the others — the kept signer is
    never used past the check each step makes under its locks."""
    from qianshu.envelopes import confirmations
    from qianshu.envelopes.actions import turns
    from qianshu.pki.actions import do_revoke_certificate

    _grant(world)
    ready = _ready(world, 4)
    loaded: list[int] = []
    load = confirmations.seal_signing_key

    def counted(seal: Any) -> Any:
        loaded.append(seal.pk)
        return load(seal)

    monkeypatch.setattr(confirmations, "seal_signing_key", counted)
    body = json.loads(_batch(world["api"], [_step(e) for e in ready[:2]]).content)
    assert [r["ok"] for r in body["results"]] == [True, True]
    assert loaded == [world["seal"].pk]  # once for the call's two steps
    sealed = turns.do_seal_with_grant
    serial = world["seal"].certificate.serial_number

    def then_revoke(*args: Any, **kwargs: Any) -> Any:
        outcome = sealed(*args, **kwargs)
        do_revoke_certificate(serial)
        return outcome

    monkeypatch.setattr(seal_actions, "do_seal_with_grant", then_revoke)
    body = json.loads(_batch(world["api"], [_step(e) for e in ready[2:]]).content)
    assert [r["ok"] for r in body["results"]] == [True, False]
    assert "印章证书已失效" in body["results"][1]["detail"]
    assert SealUsage.objects.count() == 3


def _seal_first(w: dict[str, Any]) -> dict[str, Any]:
    """The organisation seals (order 1), then bob signs (order 2)."""
    envelope = _envelope(w)
    row = Envelope.objects.get(uuid=envelope["id"])
    row.recipients.filter(role=Recipient.Role.SIGN).update(routing_order=2, status="waiting")
    row.recipients.filter(role=Recipient.Role.SEAL).update(routing_order=1, status="pending")
    return envelope


def test_the_next_signer_and_the_initiator_hear_once_for_the_whole_call(
    world: dict[str, Any],
) -> None:
    _grant(world)
    envelopes = [_seal_first(world) for _ in range(3)]
    OutboxMessage.objects.all().delete()  # the invitations of the sending
    body = json.loads(_batch(world["api"], [_step(e) for e in envelopes]).content)
    assert body["sealed"] == 3
    bob = world["bob"]
    requests = OutboxMessage.objects.filter(recipient=bob.phone)
    assert [m.kind for m in requests] == ["envelope_sign_request_batch"]
    assert "3 份文件" in requests.get().body
    progress = OutboxMessage.objects.filter(recipient=world["alice"].phone)
    assert [m.kind for m in progress] == ["envelope_progress_batch"]
    assert real_name(bob) not in progress.get().body  # the key sealed, not bob


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_large_call_is_shared_by_processes_in_the_callers_language(
    world: dict[str, Any], settings: Any
) -> None:
    """Spread over two forked processes: every step sealed once, and a refused step's
    message in the language of the request (English), also from a child process."""
    from qianshu.envelopes.actions.batch import MIN_ITEMS_PER_PROCESS, processes_for

    settings.QIANSHU_BATCH_PROCESSES = 2
    _grant(world)
    ready = _ready(world, 2 * MIN_ITEMS_PER_PROCESS)
    waiting = _envelope(world)
    steps = [_step(e) for e in ready] + [_step(waiting)]
    assert processes_for(len(steps)) == 2
    answer = world["api"].post(
        BATCH_PATH,
        {"steps": steps},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    body = json.loads(answer.content)
    assert body["sealed"] == len(ready), body
    refused = body["results"][-1]
    assert refused["code"] == "not_your_turn"
    assert refused["detail"] and not any("\u4e00" <= c <= "\u9fff" for c in refused["detail"])
    assert SealUsage.objects.filter(seal=world["seal"]).count() == len(ready)
    for envelope in ready:
        assert check_chain(Envelope.objects.get(uuid=envelope["id"])) is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_uses_of_one_seal_run_side_by_side_but_a_revocation_waits_for_them(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one step is being sealed (its locks taken, its document not yet signed), a
    second step of the same seal in another envelope is sealed at once — the locks of a use
    are shared — but the grant's revocation, and the seal certificate's, wait until the first
    use is committed, and a use after them is refused."""
    import threading
    import time

    from django.db import connection

    from qianshu.envelopes.actions import turns
    from qianshu.envelopes.errors import SealNotAllowed
    from qianshu.orgs.actions.grants import do_revoke_grant
    from qianshu.orgs.models import SealGrant
    from qianshu.pki.actions import do_revoke_certificate

    grant = _grant(world)
    first, second, third = _ready(world, 3)
    holding, release = threading.Event(), threading.Event()
    signing = turns.sign_step

    def paused(envelope: Envelope, *args: Any, **kwargs: Any) -> Any:
        if str(envelope.uuid) == first["id"]:
            holding.set()
            assert release.wait(timeout=60)
        return signing(envelope, *args, **kwargs)

    monkeypatch.setattr(turns, "sign_step", paused)
    done: dict[str, float] = {}

    def run(name: str, action: Any) -> None:
        try:
            action()
            done[name] = time.monotonic()
        except BaseException:  # a failure: no time, which the asserts below report
            done[name] = -1.0
        finally:
            connection.close()

    def seal(envelope: dict[str, Any], submission: str) -> Any:
        step = Recipient.objects.select_related("envelope").get(pk=_seal_step(envelope))
        return lambda: seal_actions.do_seal_step(
            world["key"], step, submission=submission, meta=TASK
        )

    a = threading.Thread(target=run, args=("first", seal(first, "s-1")))
    a.start()
    assert holding.wait(timeout=60)
    b = threading.Thread(target=run, args=("second", seal(second, "s-2")))
    b.start()
    b.join(timeout=15)
    assert done.get("second", -1) > 0  # sealed while the first use held its locks
    revoke = threading.Thread(
        target=run,
        args=("revoke", lambda: do_revoke_grant(grant, actor=world["alice"], meta=TASK)),
    )
    # The seal's certificate revoked directly (as by the PKI's operator) waits as well.
    serial = world["seal"].certificate.serial_number
    revoke_certificate = threading.Thread(
        target=run, args=("certificate", lambda: do_revoke_certificate(serial))
    )
    revoke.start()
    revoke_certificate.start()
    revoke.join(timeout=1.0)
    revoke_certificate.join(timeout=0.1)
    assert "revoke" not in done and "certificate" not in done  # wait for the use under way
    released = time.monotonic()
    release.set()
    a.join(timeout=60)
    revoke.join(timeout=60)
    revoke_certificate.join(timeout=60)
    assert done["first"] > 0 and done["revoke"] > released and done["certificate"] > released
    assert SealGrant.objects.get(pk=grant.pk).status == SealGrant.Status.REVOKED
    with pytest.raises(SealNotAllowed):
        seal(third, "s-3")()
    assert SealUsage.objects.filter(seal=world["seal"]).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_use_that_begins_during_a_certificate_revocation_waits_and_is_refused(
    world: dict[str, Any],
) -> None:
    """The other order of the race above: the seal certificate's revocation is under way (its
    row changed, not committed) when a step begins. The use waits for it at the certificate's
    lock, reads the certificate as revoked — not as it was before the revocation — and is
    refused; nothing is sealed."""
    import threading

    from django.db import connection, transaction

    from qianshu.envelopes.errors import EnvelopeError
    from qianshu.pki.actions import do_revoke_certificate

    _grant(world)
    (envelope,) = _ready(world, 1)
    step = Recipient.objects.select_related("envelope").get(pk=_seal_step(envelope))
    serial = world["seal"].certificate.serial_number
    revoking, commit, refused = threading.Event(), threading.Event(), []

    def revoke() -> None:
        try:
            with transaction.atomic():
                assert do_revoke_certificate(serial)
                revoking.set()
                assert commit.wait(timeout=60)
        finally:
            connection.close()

    def use() -> None:
        try:
            seal_actions.do_seal_step(world["key"], step, submission="cert-race", meta=TASK)
        except EnvelopeError as exc:
            refused.append(str(exc))
        finally:
            connection.close()

    revoker = threading.Thread(target=revoke)
    revoker.start()
    assert revoking.wait(timeout=60)
    user = threading.Thread(target=use)
    user.start()
    user.join(timeout=1.0)
    assert user.is_alive() and not refused  # waits at the certificate's lock
    commit.set()
    revoker.join(timeout=60)
    user.join(timeout=60)
    assert refused == ["印章证书已失效，请联系组织管理员。"]
    assert SealUsage.objects.count() == 0
    assert Recipient.objects.get(pk=step.pk).status != Recipient.Status.DONE


def test_each_step_counts_against_the_keys_rate_limit(world: dict[str, Any], settings: Any) -> None:
    """A batch call is no way around the per-minute limit: each step counts as a call. A call
    whose steps do not fit in what is left is refused whole (429, nothing sealed); a smaller
    one that fits goes through."""
    from qianshu.accounts.models import RateLimit
    from qianshu.api import ratelimit

    _grant(world)
    ready = _ready(world, 7)
    settings.QIANSHU_API_PER_MINUTE = 6
    ratelimit.forget_all()  # a new minute: the calls above made the envelopes
    RateLimit.objects.all().delete()
    problem_of(_batch(world["api"], [_step(e) for e in ready]), 429, "rate_limited")
    assert SealUsage.objects.count() == 0
    # Refused again from memory: a client repeating a call too big for the minute costs no
    # write of the shared count.
    counted = RateLimit.objects.get().count
    problem_of(_batch(world["api"], [_step(e) for e in ready]), 429, "rate_limited")
    assert RateLimit.objects.get().count == counted
    two = _batch(world["api"], [_step(e) for e in ready[:2]])
    assert json.loads(two.content)["sealed"] == 2
    problem_of(_batch(world["api"], [_step(e) for e in ready[2:6]]), 429, "rate_limited")
    assert SealUsage.objects.count() == 2
    counted = RateLimit.objects.get().count
    problem_of(_batch(world["api"], [_step(e) for e in ready[2:6]]), 429, "rate_limited")
    assert RateLimit.objects.get().count == counted


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_destroying_a_seal_in_use_waits_for_the_use(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """销毁 while a use of the seal is under way — caught between locking the grant and
    locking the seal: the destruction waits for the use to commit (it takes the seal's grants
    before the seal, as a use does; the other way round, each would wait for the other until
    PostgreSQL broke one off), and the seal is destroyed after it."""
    import threading

    from django.db import connection

    from qianshu.orgs import grants
    from qianshu.orgs.actions.seals import do_destroy_seal
    from qianshu.orgs.models import Seal

    _grant(world)
    (envelope,) = _ready(world, 1)
    holding, release = threading.Event(), threading.Event()
    lock = grants._locked_seal

    def paused(seal_id: int) -> Any:
        if not holding.is_set():  # the grant is locked already, the seal not yet
            holding.set()
            assert release.wait(timeout=60)
        return lock(seal_id)

    monkeypatch.setattr(grants, "_locked_seal", paused)
    outcomes: dict[str, str] = {}

    def run(name: str, action: Any) -> None:
        try:
            action()
            outcomes[name] = "done"
        except BaseException as exc:  # reported by the assert below
            outcomes[name] = repr(exc)
        finally:
            connection.close()

    step = Recipient.objects.select_related("envelope").get(pk=_seal_step(envelope))
    use = threading.Thread(
        target=run,
        args=(
            "use",
            lambda: seal_actions.do_seal_step(world["key"], step, submission="d-1", meta=TASK),
        ),
    )
    use.start()
    assert holding.wait(timeout=60)
    destroy = threading.Thread(
        target=run,
        args=(
            "destroy",
            lambda: do_destroy_seal(world["seal"], actor=world["alice"], meta=TASK),
        ),
    )
    destroy.start()
    destroy.join(timeout=2.0)  # past PostgreSQL's deadlock check (1 s)
    assert "destroy" not in outcomes
    release.set()
    use.join(timeout=60)
    destroy.join(timeout=60)
    assert outcomes == {"use": "done", "destroy": "done"}
    assert Seal.objects.get(pk=world["seal"].pk).status == Seal.Status.DESTROYED
    assert SealUsage.objects.filter(seal=world["seal"]).count() == 1
