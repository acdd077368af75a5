"""Signals inside the envelopes app, so that routing needs neither the tasks nor the lifecycle.

``all_signed`` is sent by :func:`qianshu.envelopes.routing.advance` inside the transaction in
which the last acting recipient finished (the envelope row is locked), with
``sender=Envelope`` and ``envelope=<the envelope>``. The app connects
:func:`qianshu.envelopes.tasks.schedule_completion` to it at start-up (``EnvelopesConfig``),
which enqueues completion when that transaction commits.
"""

from __future__ import annotations

from django.dispatch import Signal

all_signed = Signal()

#: Sent by :func:`qianshu.envelopes.tasks.run_timers` on every timer round, with
#: ``sender=None`` and ``meta``: apps above envelopes (e.g. employment: invitations past
#: their 反馈期限) run their own timers from it. A receiver returns a count for the log.
timer_tick = Signal()
