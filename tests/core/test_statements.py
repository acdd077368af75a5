"""Statements built once (core/statements.py): the same rows and instances as the queryset
itself, each call with its own values, and no shape whose SQL depends on the values."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction
from django.db.models import Model, Q
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from qianshu.core.sql import id_in
from qianshu.core.statements import Statement
from qianshu.envelopes.actions import turns
from qianshu.envelopes.models import Envelope, Field, Recipient, Revision
from tests.envelopes.helpers import Builder
from tests.support.personas import make_verified_org, make_verified_person

pytestmark = pytest.mark.django_db


def _columns(obj: Model) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def _two_envelopes() -> tuple[Envelope, Envelope]:
    alice = make_verified_person("alice", "13800000001", real_name="张三")
    bob = make_verified_person("bob", "13800000002", real_name="李四")
    org = make_verified_org(alice, name="厦门语句测试有限公司")
    first = Builder().draft(alice, [("sign", 1, bob), ("sign", 2, alice)], org=org)
    second = Builder().draft(bob, [("sign", 1, alice)], title="另一份合同")
    return first, second


# The signing step's own statement (envelopes/actions/turns.py): its envelope, locked.
LOCKED_ENVELOPE = turns._LOCKED_ENVELOPE


def test_instances_equal_the_querysets_own_with_related_objects_and_each_calls_values() -> None:
    first, second = _two_envelopes()
    with transaction.atomic():
        for envelope in (first, second, first):
            ours = LOCKED_ENVELOPE.get(envelope.pk)
            theirs = (
                Envelope.objects.select_for_update(of=("self",))
                .select_related("initiator__person_identity", "initiator_org")
                .get(pk=envelope.pk)
            )
            assert _columns(ours) == _columns(theirs)
            assert not ours._state.adding and ours._state.db == "default"
            # The joined rows are attached, as select_related does: no query to reach them.
            with CaptureQueriesContext(connection) as queries:
                assert _columns(ours.initiator) == _columns(theirs.initiator)
                identity = ours.initiator.person_identity
                assert _columns(identity) == _columns(theirs.initiator.person_identity)
                if theirs.initiator_org is None:
                    assert ours.initiator_org is None
                else:
                    assert _columns(ours.initiator_org) == _columns(theirs.initiator_org)
            assert not queries.captured_queries
    assert first.initiator_org is not None and second.initiator_org is None


def test_missing_rows_raise_does_not_exist_and_hostile_values_stay_values() -> None:
    first, _second = _two_envelopes()
    steps: Statement[Recipient] = Statement(
        lambda envelope, phone: Recipient.objects.filter(
            envelope_id=envelope.as_int(), phone=phone.as_str()
        ),
        arity=2,
    )
    with transaction.atomic(), pytest.raises(Envelope.DoesNotExist):
        LOCKED_ENVELOPE.get(10**9)
    assert [r.phone for r in steps.objects(first.pk, "13800000002")] == ["13800000002"]
    for hostile in ("' OR 1=1 --", "13800000002' OR '1'='1", "%s", "\x1fqianshu"):
        assert steps.objects(first.pk, hostile) == []
    with pytest.raises(Recipient.MultipleObjectsReturned):
        Statement(lambda e: Recipient.objects.filter(envelope_id=e.as_int()), arity=1).get(first.pk)
    with pytest.raises(TypeError):
        steps.objects(first.pk)  # a value left out is refused, not run as the stand-in


def test_known_objects_are_attached_and_annotations_and_rows_are_read() -> None:
    first, _second = _two_envelopes()
    recipients: Statement[Recipient] = Statement(
        lambda envelope: (
            Recipient.objects.select_related("user")
            .filter(envelope_id=envelope.as_int())
            .order_by("routing_order", "id")
        ),
        arity=1,
    )
    found = recipients.objects(first.pk, known={"envelope": first})
    assert [r.pk for r in found] == [r.pk for r in first.recipients.order_by("routing_order")]
    first.recipients.filter(routing_order=1).update(user=first.initiator)
    found = recipients.objects(first.pk, known={"envelope": first})
    with CaptureQueriesContext(connection) as queries:
        assert all(r.envelope is first for r in found)
        assert [r.user.phone if r.user else None for r in found] == ["13800000001", None]
    assert not queries.captured_queries
    revisions: Statement[Any] = Statement(
        lambda document: Revision.objects.filter(document_id=document.as_int()).values_list(
            "number", "action", "created_at"
        ),
        arity=1,
    )
    document = first.documents.get()
    expected = list(
        Revision.objects.filter(document=document).values_list("number", "action", "created_at")
    )
    assert revisions.rows(document.pk) == expected and expected
    assert expected[0][2].tzinfo is not None  # Django's own converters applied
    with pytest.raises(TypeError):
        revisions.objects(document.pk)


@pytest.mark.parametrize(
    "build",
    [
        # A value Django writes into the SQL itself (a LIMIT): refused.
        lambda pk: Field.objects.all()[: pk.as_int()],
        # A value that is not among the parameters: refused.
        lambda pk: Field.objects.filter(page=0),
        # A value the lookup changes (LIKE pattern): refused.
        lambda pk: Recipient.objects.filter(phone__contains=pk.as_str()),
        # Flat rows are not what rows() returns: refused.
        lambda pk: Field.objects.filter(pk=pk.as_int()).values_list("pk", flat=True),
    ],
)
def test_shapes_whose_sql_depends_on_the_values_are_refused(build: Any) -> None:
    with pytest.raises(ValueError):
        Statement(build, arity=1).objects(1)


def test_a_value_used_twice_fills_both_places() -> None:
    first, second = _two_envelopes()
    taking_part: Statement[Envelope] = Statement(
        lambda user: (
            Envelope.objects.filter(
                Q(initiator_id=user.as_int()) | Q(recipients__user_id=user.as_int())
            )
            .distinct()
            .order_by("pk")
        ),
        arity=1,
    )
    first.recipients.filter(routing_order=1).update(user=second.initiator)
    for user in (first.initiator, second.initiator, first.initiator):
        expected = list(
            Envelope.objects.filter(Q(initiator=user) | Q(recipients__user=user))
            .distinct()
            .order_by("pk")
        )
        assert taking_part.objects(user.pk) == expected
    # bob initiated the second and is the first's first signer; alice only initiated the first
    assert [e.pk for e in taking_part.objects(second.initiator.pk)] == [first.pk, second.pk]
    assert [e.pk for e in taking_part.objects(first.initiator.pk)] == [first.pk]


# Each call's own list of ids, in one array parameter on PostgreSQL (made afresh on SQLite).
BY_IDS: Statement[Envelope] = Statement(
    lambda ids: Envelope.objects.filter(id_in(ids.as_ids())).order_by("pk"), arity=1
)
TITLES: Statement[Any] = Statement(
    lambda ids, title: (
        Envelope.objects.filter(id_in(ids.as_ids()), title=title.as_str())
        .order_by("pk")
        .values_list("pk", "title")
    ),
    arity=2,
)


def test_lists_of_ids_are_each_calls_own() -> None:
    first, second = _two_envelopes()
    for ids in ([first.pk, second.pk], [second.pk], [], [first.pk, 10**9], [second.pk] * 3):
        expected = list(Envelope.objects.filter(pk__in=ids).order_by("pk"))
        assert BY_IDS.objects(ids) == expected
        assert BY_IDS.objects(tuple(ids)) == expected  # any sequence of ids
    assert TITLES.rows([first.pk, second.pk], "另一份合同") == [(second.pk, "另一份合同")]
    assert TITLES.rows([first.pk], "另一份合同") == []
    assert TITLES.rows([first.pk, second.pk], "' OR 1=1 --") == []
    with pytest.raises(Envelope.DoesNotExist):
        BY_IDS.get([10**9])
    key = (connection.alias, connection.vendor)
    # Built once where the list is one parameter; made with the values where it is not.
    assert (BY_IDS._built[key] is not None) == (connection.vendor == "postgresql")
    with pytest.raises(TypeError):
        TITLES.objects([first.pk], "合同")  # rows, not instances, either way


def test_a_list_the_database_gets_as_placeholders_is_refused_when_built_once() -> None:
    first, _second = _two_envelopes()
    plain_in: Statement[Envelope] = Statement(
        lambda ids: Envelope.objects.filter(pk__in=ids.as_ids()), arity=1
    )
    if connection.vendor == "postgresql":
        with pytest.raises(ValueError):  # IN (%s): the stand-in list is not a parameter
            plain_in.objects([first.pk])
    else:
        assert plain_in.objects([first.pk]) == [first]


def test_times_are_compared_as_the_queryset_compares_them() -> None:
    first, _second = _two_envelopes()
    made = list(Revision.objects.filter(document__envelope=first).order_by("pk"))
    assert made
    since: Statement[Revision] = Statement(
        lambda at, until: Revision.objects.filter(
            created_at__gte=at.as_datetime(), created_at__lt=until.as_datetime()
        ).order_by("pk"),
        arity=2,
    )
    at = made[0].created_at
    china = dt.timezone(dt.timedelta(hours=8))
    for start, end in (
        (at, at + dt.timedelta(seconds=1)),
        (at + dt.timedelta(microseconds=1), at + dt.timedelta(days=1)),
        (at - dt.timedelta(days=1), at),
        (at.astimezone(china), (at + dt.timedelta(seconds=1)).astimezone(china)),
    ):
        expected = list(Revision.objects.filter(created_at__gte=start, created_at__lt=end))
        assert since.objects(start, end) == expected
    assert since.objects(at, at + dt.timedelta(seconds=1))  # one found, not vacuous
    with pytest.raises(ValueError):  # a naive time: which zone is it in? Refused.
        since.objects(at.replace(tzinfo=None), at + dt.timedelta(seconds=1))


@contextmanager
def _held_in_another_transaction(work: Callable[[], object]) -> Iterator[None]:
    """``work()`` in a transaction of another thread (a connection of its own), which stays
    open for the block and commits after it."""
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        try:
            with transaction.atomic():
                work()
                held.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(timeout=30)
        yield
    finally:
        release.set()
        thread.join(timeout=30)


def _locked_elsewhere(queryset: Any) -> bool:
    """Whether another transaction holds a lock on the row that an update would wait for."""
    with transaction.atomic():
        try:
            queryset.select_for_update(nowait=True).get()
        except OperationalError:  # could not obtain lock
            return True
    return False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_lock_is_taken_and_held_until_the_transaction_ends() -> None:
    first, _second = _two_envelopes()
    with transaction.atomic():
        LOCKED_ENVELOPE.get(first.pk)  # built
    # A lock outside a transaction is refused, as Django refuses it (it would end at once).
    with pytest.raises(TransactionManagementError):
        LOCKED_ENVELOPE.get(first.pk)
    with _held_in_another_transaction(lambda: LOCKED_ENVELOPE.get(first.pk)):
        assert _locked_elsewhere(Envelope.objects.filter(pk=first.pk))
    assert not _locked_elsewhere(Envelope.objects.filter(pk=first.pk))


# A shared lock of a recipient read with its envelope joined (the shape of a seal's use:
# orgs/grants.py locks a grant read with its API key, a seal read with its organisation).
SHARED_RECIPIENT: Statement[Recipient] = Statement(
    lambda pk: Recipient.objects.select_related("envelope").filter(pk=pk.as_int()).order_by(),
    arity=1,
    share=True,
)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_shared_lock_holds_its_own_row_not_the_joined_ones_and_reads_a_change_it_waited_for() -> (
    None
):
    first, _second = _two_envelopes()
    recipient = first.recipients.order_by("pk").first()
    assert recipient is not None
    row, joined = Recipient.objects.filter(pk=recipient.pk), Envelope.objects.filter(pk=first.pk)
    with _held_in_another_transaction(lambda: SHARED_RECIPIENT.get(recipient.pk)):
        with transaction.atomic():  # another reader shares the lock
            assert SHARED_RECIPIENT.get(recipient.pk).envelope.pk == first.pk
        assert _locked_elsewhere(row)  # a writer of the row waits
        assert not _locked_elsewhere(joined)  # the joined envelope is read, not locked

    # A change under way is waited for, and the row is read as changed.
    read: list[str] = []

    def reader() -> None:
        try:
            with transaction.atomic():
                read.append(SHARED_RECIPIENT.get(recipient.pk).name)
        finally:
            connection.close()

    waiting = threading.Thread(target=reader)
    with _held_in_another_transaction(lambda: row.update(name="改后的名字")):
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive() and not read  # waits for the change
    waiting.join(timeout=30)
    assert read == ["改后的名字"]
