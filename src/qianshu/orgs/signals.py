"""Signals other apps listen to without the organisations app importing them.

``org_verified`` is sent inside the transaction that marks an organisation verified (its row
is locked), with ``sender=Organization`` and ``org=<the organisation>``. Receivers make their
own state changes in that same transaction (e.g. the envelopes app binds seal recipients that
named this organisation by credit code and name); an exception rolls the verification back.
"""

from __future__ import annotations

from django.dispatch import Signal

org_verified = Signal()
