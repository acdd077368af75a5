"""core.savepoints: a mark stands while every savepoint around it stands."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from qianshu.core.savepoints import Mark, standing, withdraw


@pytest.mark.django_db(transaction=True)
def test_marks_follow_the_savepoints_they_were_made_in() -> None:
    outside = Mark()  # no transaction: nothing can roll it back
    with transaction.atomic():
        first = Mark()
        try:
            with transaction.atomic():
                undone = Mark()
                with transaction.atomic():
                    inner = Mark()  # released, inside a savepoint rolled back
                raise RuntimeError
        except RuntimeError:
            pass
        with transaction.atomic():
            released = Mark()
        marks = [outside, first, undone, inner, released]
        names = ["outside", "first", "undone", "inner", "released"]
        assert standing(names, marks) == ["outside", "first", "released"]
        # Read once, spent: their callbacks are withdrawn from the transaction.
        assert not any(isinstance(entry[1], Mark) for entry in connection.run_on_commit)
        with pytest.raises(ValueError):
            standing(names, marks[:2])


@pytest.mark.django_db(transaction=True)
def test_withdrawn_marks_leave_the_callers_callbacks() -> None:
    ran: list[str] = []
    with transaction.atomic():
        transaction.on_commit(lambda: ran.append("caller's"))
        withdraw([Mark(), Mark()])
        assert len(connection.run_on_commit) == 1
    assert ran == ["caller's"]
