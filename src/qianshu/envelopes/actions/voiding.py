"""作废: starting the void statement of a completed envelope (what the statement is:
:mod:`qianshu.envelopes.voiding`)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.core.meta import RequestMeta
from qianshu.envelopes import audit, placement
from qianshu.envelopes.actions import compose
from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.models import Envelope, Recipient
from qianshu.envelopes.routing import initiator_label
from qianshu.envelopes.voiding import STATEMENT_DAYS, can_request_void
from qianshu.signing import statements

Role = Recipient.Role


def _parties(envelope: Envelope) -> list[Recipient]:
    return list(
        envelope.recipients.filter(role__in=(Role.SIGN, Role.SEAL), status=Recipient.Status.DONE)
        .select_related("org")
        .order_by("routing_order", "id")
    )


def do_request_void(envelope: Envelope, reason: str, *, actor: User, meta: RequestMeta) -> Envelope:
    """Start the void statement of a completed envelope; returns the statement (sent)."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise EnvelopeError(_("请填写作废原因。"))
    if len(reason) > 300:
        raise EnvelopeError(_("作废原因最多 300 个字。"))
    if not can_request_void(envelope, actor):
        raise EnvelopeError(_("只有发起人可以作废已完成的任务，且同一时间只能有一份作废声明。"))
    parties = _parties(envelope)
    content = statements.VoidStatement(
        title=envelope.title,
        number=envelope.number,
        initiator=initiator_label(envelope),
        completed_at=date_format(timezone.localtime(envelope.completed_at), "Y-m-d H:i")
        if envelope.completed_at
        else "",
        reason=reason,
        documents=tuple(
            (d.name, d.current_id) for d in envelope.documents.order_by("position", "id")
        ),
        parties=tuple(
            (r.org.name if r.org_id else r.name, str(r.get_role_display()))  # type: ignore[union-attr]
            for r in parties
        ),
        date=date_format(timezone.localdate(), "Y-m-d"),
    )
    pdf, areas = statements.render_void_statement(content)
    with transaction.atomic():
        original = Envelope.objects.select_for_update().get(pk=envelope.pk)
        if not can_request_void(original, actor):
            raise EnvelopeError(_("只有发起人可以作废已完成的任务，且同一时间只能有一份作废声明。"))
        statement = compose.do_create_draft(
            title=(_("作废声明：%(title)s") % {"title": original.title})[:100],
            message=reason,
            actor=actor,
            deadline=timezone.now() + dt.timedelta(days=STATEMENT_DAYS),
            allow_sms_signing=original.allow_sms_signing,  # confirmed as the original was
            org=original.initiator_org,
            meta=meta,
        )
        statement.kind = Envelope.Kind.VOID_STATEMENT
        statement.voids = original
        statement.void_reason = reason
        statement.save(update_fields=["kind", "voids", "void_reason"])
        document = compose.do_add_document(
            statement, pdf, f"作废声明-{original.number}.pdf", actor=actor, meta=meta
        )
        fields = []
        for party, (page, rect) in zip(parties, areas, strict=True):
            copy = Recipient.objects.create(
                envelope=statement,
                routing_order=party.routing_order,
                role=party.role,
                name=party.name,
                phone=party.phone,
                email=party.email,
                contact_name=party.contact_name,
                org_credit_code=party.org_credit_code,
                required_seal_kind=party.required_seal_kind,
                user=party.user,
                org=party.org,
            )
            kind = placement.Kind.SEAL if party.role == Role.SEAL else placement.Kind.SIGNATURE
            fields.append(
                placement.FieldInput(
                    recipient_id=copy.pk, document_id=document.pk, kind=kind, page=page, rect=rect
                )
            )
        compose.do_set_fields(statement, fields, actor=actor)
        audit.record(
            original,
            "void_requested",
            actor=actor,
            meta=meta,
            reason=reason,
            statement=statement.number,
        )
        compose.do_send_envelope(statement, actor=actor, meta=meta)
    statement.refresh_from_db()
    return statement
