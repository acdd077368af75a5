"""What a template version holds, as JSON, and how it is taken from a draft.

A role::

    {"key": "r1", "label": "被考核人", "role": "sign", "order": 1, "fixed": false,
     "name": "", "phone": "", "email": "", "contact_name": "", "org_credit_code": "",
     "required_seal_kind": ""}

``fixed`` roles keep the party of the draft (e.g. 人事处: the organisation that always seals);
the others are filled in each time the template is used. A field::

    {"role": "r1", "document": 0, "kind": "signature", "page": 1,
     "rect": [x1, y1, x2, y2], "pages": [], "label": "", "value": ""}

in PDF points on the unrotated page (as :class:`qianshu.envelopes.models.Field` stores them),
``document`` being the document's position in the version.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from qianshu.envelopes.models import Envelope, Field, Recipient

ROLE_VALUES = ("name", "phone", "email", "contact_name", "org_credit_code")
MAX_LABEL = 30


@dataclass(frozen=True)
class Party:
    """Who takes a role when a template is used: a person (name, phone or e-mail) or, for a
    seal role, an organisation (name, credit code, the contact's name and phone)."""

    name: str
    phone: str = ""
    email: str = ""
    contact_name: str = ""
    org_credit_code: str = ""


@dataclass(frozen=True)
class RoleChoice:
    """How the person saving a draft as a template describes one of its recipients."""

    label: str
    fixed: bool


def default_label(recipient: Recipient, index: int) -> str:
    """A role's label before the user names it: 签署方 n（个人签署）."""
    return _("签署方%(n)d（%(role)s）") % {"n": index + 1, "role": recipient.get_role_display()}


def recipients_of(envelope: Envelope) -> list[Recipient]:
    return list(envelope.recipients.order_by("routing_order", "id"))


def roles_snapshot(recipients: list[Recipient], choices: list[RoleChoice]) -> list[dict[str, Any]]:
    roles = []
    for index, (recipient, choice) in enumerate(zip(recipients, choices, strict=True)):
        role: dict[str, Any] = {
            "key": f"r{index + 1}",
            "label": choice.label,
            "role": recipient.role,
            "order": recipient.routing_order,
            "fixed": choice.fixed,
            "required_seal_kind": recipient.required_seal_kind,
        }
        for name in ROLE_VALUES:
            role[name] = getattr(recipient, name) if choice.fixed else ""
        roles.append(role)
    return roles


def text_fields(envelope: Envelope) -> list[Field]:
    """The draft's text fields (文本): each may become a data field the sender fills."""
    return list(
        envelope.fields.filter(kind=Field.Kind.TEXT, placed_by_signer=False)
        .select_related("recipient", "document")
        .order_by("document__position", "page", "id")
    )


def document_positions(envelope: Envelope) -> dict[int, int]:
    return {d.pk: i for i, d in enumerate(envelope.documents.order_by("position", "id"))}


def fields_snapshot(
    envelope: Envelope, recipients: list[Recipient], *, exclude: Iterable[int] = ()
) -> list[dict[str, Any]]:
    """The draft's fields by role (those in ``exclude``, by id, became data fields)."""
    keys = {r.pk: f"r{i + 1}" for i, r in enumerate(recipients)}
    positions = document_positions(envelope)
    skipped = set(exclude)
    return [
        {
            "role": keys[f.recipient_id],
            "document": positions[f.document_id],
            "kind": f.kind,
            "page": f.page,
            "rect": [f.x1, f.y1, f.x2, f.y2],
            "pages": list(f.pages or []),
            "label": f.label,
            "value": f.value,
        }
        for f in envelope.fields.filter(placed_by_signer=False).order_by("document", "page", "id")
        if f.pk not in skipped
    ]
