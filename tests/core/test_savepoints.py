"""core.savepoints: a held write stands while every savepoint around it stands."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from qianshu.core.savepoints import Held, Mark


@pytest.mark.django_db(transaction=True)
def test_held_writes_follow_the_savepoints_they_were_held_in() -> None:
    held: Held[str] = Held()
    held.append("outside")  # no transaction: nothing can roll it back
    with transaction.atomic():
        held.append("first")
        try:
            with transaction.atomic():
                held.append("undone")
                with transaction.atomic():
                    held.append("inner")  # released, inside a savepoint rolled back
                raise RuntimeError
        except RuntimeError:
            pass
        with transaction.atomic():
            held.append("released")
        assert held.items == ["outside", "first", "undone", "inner", "released"]
        assert held.standing() == ["outside", "first", "released"]
        # Read, spent: their callbacks are withdrawn from the transaction.
        assert not any(isinstance(entry[1], Mark) for entry in connection.run_on_commit)


@pytest.mark.django_db(transaction=True)
def test_withdrawn_marks_leave_the_callers_callbacks() -> None:
    ran: list[str] = []
    with transaction.atomic():
        transaction.on_commit(lambda: ran.append("caller's"))
        held: Held[int] = Held()
        held.append(1)
        held.append(2)
        held.withdraw()
        assert len(connection.run_on_commit) == 1
    assert ran == ["caller's"]
