"""Whether a write held back inside the caller's transaction still stands when it is written.

Some writes are held for the end of a block and written together there, in the same
transaction: an audit chain's events (:func:`qianshu.core.chains.appended_at_end`, an
envelope's :func:`qianshu.envelopes.audit.deferred`) and outbox messages
(:func:`qianshu.notifications.actions.written_together`). Code inside such a block may roll a
savepoint back and catch the exception (``transaction.atomic()`` inside, its error handled):
the rows written in the savepoint are gone, and the writes held in it must go with them — an
audit event of an action that was undone, a message about it, must never be written.

Django keeps no list of the savepoints rolled back, but it forgets the commit callbacks
registered inside a savepoint when it rolls that savepoint back (``transaction.on_commit``:
"callbacks registered in a savepoint that is rolled back are not run"). A :class:`Mark`, made
where a write is held (:class:`Held`), registers a callback that does nothing; the write stands
as long as its callback is still registered, and the block's end withdraws the callbacks.
Outside a transaction there is no savepoint to roll back: a mark made there stands.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections

T = TypeVar("T")


class Mark:
    """Made where a write is held: stands until a savepoint around it is rolled back."""

    __slots__ = ("in_transaction",)

    def __init__(self) -> None:
        connection = connections[DEFAULT_DB_ALIAS]
        self.in_transaction = connection.in_atomic_block
        if self.in_transaction:
            connection.on_commit(self)

    def __call__(self) -> None:
        """Run when the transaction commits: nothing is left to do."""


class Held(Generic[T]):
    """Writes held back for the end of a block, each with the mark of where it was held."""

    __slots__ = ("_marks", "items")

    def __init__(self) -> None:
        self.items: list[T] = []  # in the order held (read them; add with append)
        self._marks: list[Mark] = []

    def append(self, item: T) -> None:
        self.items.append(item)
        self._marks.append(Mark())

    def standing(self) -> list[T]:
        """The items whose savepoints all stand, in order; the marks are then withdrawn."""
        registered = {id(entry[1]) for entry in connections[DEFAULT_DB_ALIAS].run_on_commit}
        kept = [
            item
            for item, mark in zip(self.items, self._marks, strict=True)
            if not mark.in_transaction or id(mark) in registered
        ]
        self.withdraw()
        return kept

    def withdraw(self) -> None:
        """Withdraw the marks' callbacks from the transaction (the commit, and a test capturing
        the commit callbacks, sees only the callers' own; a block that raised writes nothing it
        held and leaves none behind)."""
        ours = {id(mark) for mark in self._marks if mark.in_transaction}
        if ours:
            connection = connections[DEFAULT_DB_ALIAS]
            connection.run_on_commit = [e for e in connection.run_on_commit if id(e[1]) not in ours]
