"""Helpers of the envelope tests: a builder of drafts, signing a turn, and the URLs (the
people and organisations come from :mod:`tests.support.personas`)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from collections.abc import Sequence
from typing import Any

from django.test import Client, TestCase
from django.urls import URLPattern, URLResolver, reverse

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.envelopes import compose, turns
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.actions import turns as turns_actions
from qianshu.envelopes.models import Document, Envelope, Field, Recipient
from qianshu.orgs.models import Organization, Seal
from qianshu.signing import stamps
from qianshu.signing.samples import make_test_pdf
from tests.support.personas import PIN, real_name

_counter = itertools.count(1)


class Builder:
    """Drafts for tests: ``build.draft(alice, [("sign", 1, bob), ("seal", 2, org)])``."""

    def draft(
        self,
        initiator: User,
        parties: Sequence[tuple[str, int, User | Organization | str]],
        *,
        pages: int = 2,
        documents: int = 1,
        fields: bool = True,
        title: str = "采购合同",
        deadline: dt.datetime | None = None,
        file_stem: str = "合同",
        org: Organization | None = None,
    ) -> Envelope:
        envelope = compose_actions.do_create_draft(
            title=title, actor=initiator, deadline=deadline, org=org, meta=TASK
        )
        for i in range(documents):
            compose_actions.do_add_document(
                envelope,
                make_test_pdf(pages=pages),
                f"{file_stem}{i + 1}.pdf",
                actor=initiator,
                meta=TASK,
            )
        items = []
        for role, order, who in parties:
            if isinstance(who, Organization):
                items.append(
                    compose.RecipientInput(
                        role=role,
                        routing_order=order,
                        name=who.name,
                        phone=who.memberships.first().user.phone,  # type: ignore[union-attr]
                        org_uuid=str(who.uuid),  # chosen in the search: bound
                    )
                )
            elif isinstance(who, User):
                items.append(
                    compose.RecipientInput(
                        role=role, routing_order=order, name=real_name(who), phone=who.phone
                    )
                )
            else:  # an e-mail address
                items.append(
                    compose.RecipientInput(role=role, routing_order=order, name="外部", email=who)
                )
        recipients = compose_actions.do_set_recipients(envelope, items, actor=initiator)
        if fields:
            self.fields(envelope, recipients)
        return envelope

    def fields(self, envelope: Envelope, recipients: Sequence[Recipient]) -> list[Field]:
        """One field per acting recipient on each document: signature + date for a person,
        seal for an organisation, laid out in a grid on the last page."""
        items = []
        for document in envelope.documents.all():
            last = document.page_count - 1
            for index, recipient in enumerate(r for r in recipients if r.acts):
                x = 40 + (index % 3) * 180
                y = 40 + (index // 3) * 130
                if recipient.role == Recipient.Role.SIGN:
                    items.append(
                        field(document, recipient, "signature", last, (x, y, x + 120, y + 48))
                    )
                    items.append(
                        field(document, recipient, "date", last, (x, y + 52, x + 110, y + 74))
                    )
                elif recipient.role == Recipient.Role.SEAL:
                    items.append(field(document, recipient, "seal", last, (x, y, x + 110, y + 110)))
        return compose_actions.do_set_fields(envelope, items, actor=envelope.initiator)


def field(
    document: Document,
    recipient: Recipient,
    kind: str,
    page: int,
    rect: tuple[float, float, float, float],
    pages: tuple[int, ...] = (),
) -> compose.FieldInput:
    return compose.FieldInput(
        recipient_id=recipient.pk,
        document_id=document.pk,
        kind=kind,
        page=page,
        rect=stamps.Rect(*rect),
        pages=pages,
    )


def with_filled_text(envelope: Envelope, value: str = "北京") -> Envelope:
    """``envelope`` (a draft of one signer, without fields) with a signature field and a text
    field its initiator filled in with ``value``, for the signer."""
    recipient, document = envelope.recipients.get(), envelope.documents.get()
    text = field(document, recipient, "text", 0, (40, 100, 200, 124))
    compose_actions.do_set_fields(
        envelope,
        [
            field(document, recipient, "signature", 0, (40, 40, 160, 88)),
            compose.FieldInput(**{**text.__dict__, "value": value}),
        ],
        actor=envelope.initiator,
    )
    return envelope


def seen(envelope: Envelope) -> dict[int, str]:
    """The document hashes a signer sees now."""
    return {d.pk: d.current_id for d in envelope.documents.all()}  # type: ignore[misc]


def all_fields(recipient: Recipient) -> list[turns.StagedField]:
    return [turns.StagedField(field_id=f.pk) for f in recipient.fields.all()]


def sign(
    recipient: Recipient,
    actor: User,
    *,
    pin: str | None = PIN,
    code: str | None = None,
    seal: Seal | None = None,
    key: str | None = None,
    extra: Sequence[turns.StagedField] = (),
) -> turns.SignOutcome:
    """Sign (or seal) every field of ``recipient`` as ``actor``."""
    recipient.refresh_from_db()
    request = turns.SignRequest(
        key=key or uuid.uuid4().hex,
        seen=seen(recipient.envelope),
        fields=[*all_fields(recipient), *extra],
        seal_uuid=str(seal.uuid) if seal else None,
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        return turns_actions.do_sign(
            recipient, request, pin=pin if code is None else None, code=code, actor=actor, meta=TASK
        )


def next_phone() -> str:
    return f"1390000{next(_counter):04d}"


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def submit_over_http(
    client: Client, recipient: Recipient, *, seal: Seal | None = None, pin: str = PIN
) -> Any:
    """提交签署 of every field of ``recipient`` through the signing endpoint (JSON)."""
    recipient.refresh_from_db()
    envelope = recipient.envelope
    body = {
        "key": uuid.uuid4().hex,
        "recipient": recipient.pk,
        "seen": {str(k): v for k, v in seen(envelope).items()},
        "fields": [{"field": f.pk} for f in recipient.fields.all()],
        "seal": str(seal.uuid) if seal else None,
        "pin": pin,
    }
    url = reverse("envelopes:sign-submit", args=[envelope.uuid])
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url, json.dumps(body), content_type="application/json")


def url_names(patterns: Sequence[Any]) -> set[str]:
    """Every URL name under ``patterns`` (through includes): the permission matrices need a row
    for each."""
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            names |= url_names(pattern.url_patterns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(pattern.name)
    return names


def envelope_url(name: str, envelope: Envelope) -> str:
    """``envelopes:<name>`` for ``envelope``, its parameters filled from the URL pattern (the
    first document, page 0)."""
    from qianshu.envelopes import urls as envelope_urls

    pattern = next(p for p in envelope_urls.urlpatterns if getattr(p, "name", "") == name)
    kwargs: dict[str, Any] = {}
    for param in pattern.pattern.converters:  # type: ignore[attr-defined]
        if param == "envelope_uuid":
            kwargs[param] = envelope.uuid
        elif param == "document_id":
            kwargs[param] = envelope.documents.first().pk  # type: ignore[union-attr]
        elif param == "page":
            kwargs[param] = 0
        else:
            raise AssertionError(f"no value for <{param}> of {name}: add it to envelope_url")
    return reverse(f"envelopes:{name}", kwargs=kwargs)
