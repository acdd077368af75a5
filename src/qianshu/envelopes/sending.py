"""Who may send (发起签署), and how much.

Sending makes the platform text and e-mail people in its own name, and puts the sender's name
on the message as 发起方; so it costs trust:

* the sender is a real-name verified person (实名认证);
* sending in an organisation's name (the 个人/组织 switcher's acting organisation, stored as
  ``Envelope.initiator_org``) needs that organisation verified and the sender a current member;
* at most ``QIANSHU_SEND_PER_USER_DAY`` envelopes a person sends in their own name, and
  ``QIANSHU_SEND_PER_ORG_DAY`` sent in one organisation's name (by all its members together),
  in any 24 hours (a rolling window over ``Envelope.sent_at``). An organisation's sends count
  against the organisation's allowance only: 批量发起 of an evaluation season by the HR office
  is the organisation's, and its allowance is the one the platform sets for it.

The limits are counted atomically: :func:`lock_quota` runs first in the sending transaction and
locks the sender's user row, then the organisation's row (this order everywhere; an
organisation's verification locks only the organisation, then envelopes), so two sends by the
same person or organisation count one after the other, and the envelope sent now is counted by
the next one once this transaction commits. A refused send rolls back and leaves the draft as
it was. The platform's signatures of the documents are made before, without these locks
(:func:`qianshu.envelopes.actions.compose.do_send_envelope`), so the locks are held for the
bookkeeping only; :func:`within_allowance` (no lock) spares a signature to a send that would
be refused.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.envelopes.audit import person_identity
from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.models import Envelope
from qianshu.orgs.models import Membership, Organization

WINDOW = dt.timedelta(hours=24)


class SendLimitReached(EnvelopeError):
    """The sender or the organisation has sent its allowance for 24 hours."""

    code = "send_limit_reached"
    status = 429

    def __init__(self, message: str, retry_at: dt.datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


def sender_problems(envelope: Envelope, actor: User) -> list[str]:
    """Why ``actor`` may not send ``envelope`` (empty when they may), as messages."""
    out: list[str] = []
    if person_identity(actor) is None:
        out.append(_("发起签署前，请先完成个人实名认证。"))
    org = envelope.initiator_org
    if org is not None:
        if not org.is_verified:
            out.append(
                _("“%(org)s”尚未完成组织机构认证，不能以该组织的名义发起签署。") % {"org": org.name}
            )
        if not Membership.objects.filter(org=org, user=actor).exists():
            out.append(
                _("您已不是“%(org)s”的成员，不能以该组织的名义发起签署。") % {"org": org.name}
            )
    return out


def check_sender(envelope: Envelope, actor: User) -> None:
    problems = sender_problems(envelope, actor)
    if problems:
        raise EnvelopeError(problems[0])


def _retry_at(sent: QuerySet[Envelope], count: int, limit: int) -> dt.datetime:
    """When the window holds fewer than ``limit`` sends again: the send that must age out first
    is the (count − limit + 1)-th oldest in the window."""
    oldest = list(sent.order_by("sent_at").values_list("sent_at", flat=True)[: count - limit + 1])
    last = oldest[-1]
    assert last is not None  # the window is on sent_at
    return last + WINDOW


def _check(
    sent: QuerySet[Envelope], limit: int, sends: int, message: str, values: dict[str, object]
) -> None:
    """Refuse unless ``sends`` more sends fit in the window of ``limit``."""
    count = sent.count()
    room = limit - sends + 1  # the window may hold fewer than this many before the sends
    if count < room:
        return
    if count == 0:  # more sends at once than the allowance holds: nothing to age out
        retry_at = timezone.now()
    else:  # when enough have aged out (all of them, for more sends than the allowance)
        retry_at = _retry_at(sent, count, max(room, 1))
    when = date_format(timezone.localtime(retry_at), "Y-m-d H:i")
    raise SendLimitReached(message % {**values, "n": limit, "time": when}, retry_at)


def _sent(actor: User, org_id: int | None, now: dt.datetime) -> tuple[QuerySet[Envelope], int]:
    """The sends that count against the allowance ``actor`` sends from now, and its size."""
    since = now - WINDOW
    if org_id is None:
        personal = Envelope.objects.filter(
            initiator=actor, initiator_org__isnull=True, sent_at__gte=since
        )
        return personal, settings.QIANSHU_SEND_PER_USER_DAY
    sent = Envelope.objects.filter(initiator_org_id=org_id, sent_at__gte=since)
    return sent, settings.QIANSHU_SEND_PER_ORG_DAY


def within_allowance(actor: User, org_id: int | None, *, now: dt.datetime, sends: int = 1) -> bool:
    """Whether ``sends`` sends now would be within the allowance, without locking: a hint (a
    send may be refused all the same); only :func:`lock_quota` decides."""
    sent, limit = _sent(actor, org_id, now)
    return sent.count() + sends <= limit


def lock_quota(
    actor: User, org_id: int | None, *, now: dt.datetime, sends: int = 1
) -> Organization | None:
    """Lock the sender (and the organisation) and refuse with :class:`SendLimitReached` unless
    ``sends`` more sends fit in the 24-hour allowance. Call first in the sending transaction.
    Returns the organisation's row as locked (None when sending in one's own name)."""
    # FOR NO KEY UPDATE: excludes other senders like FOR UPDATE, but not the foreign-key checks
    # of rows that merely refer to the user or the organisation (a draft being made meanwhile).
    User.objects.select_for_update(no_key=True).filter(pk=actor.pk).first()
    sent, limit = _sent(actor, org_id, now)
    if org_id is None:
        _check(
            sent,
            limit,
            sends,
            _(
                "您在 24 小时内最多可发起 %(n)d 个签署任务，已达上限，"
                "请于 %(time)s 后再发起。草稿已保存。"
            ),
            {},
        )
        return None
    org = Organization.objects.select_for_update(no_key=True).filter(pk=org_id).first()
    if org is None:
        return None
    _check(
        sent,
        limit,
        sends,
        _(
            "“%(org)s”在 24 小时内最多可发起 %(n)d 个签署任务，已达上限，"
            "请于 %(time)s 后再发起。草稿已保存。"
        ),
        {"org": org.name},
    )
    return org
