"""What a person asked to seal for an organisation sees when they cannot (yet): the
organisation the step is bound to, or — for an unbound step — the organisation (name and credit
code) that must verify first, with 创建组织 prefilled. Never the documents: those follow the
binding (:mod:`qianshu.envelopes.access`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from qianshu.accounts.models import User
from qianshu.envelopes import routing
from qianshu.envelopes.access import visible_envelopes
from qianshu.envelopes.models import Recipient
from qianshu.orgs.models import Membership
from qianshu.orgs.verification import same_name


def seal_help(user: User, recipient: Recipient) -> dict[str, Any]:
    """The context of ``envelopes/sign/no_seal.html`` for ``user`` and the seal ``recipient``:
    ``state`` is ``unbound`` (the organisation must verify; 创建组织), ``org_pending`` (the
    user's own organisation with that credit code is not verified yet), ``no_grant`` (a member
    of the bound organisation without a grant of a matching seal) or ``not_member``."""
    envelope = recipient.envelope
    context: dict[str, Any] = {
        "envelope": envelope,
        "nav": "envelopes",
        "seal_recipient": recipient,
        "initiator_label": routing.initiator_label(envelope),
        "initiator_verified": routing.initiator_verified(envelope),
        "required_kind_label": recipient.required_seal_label,
        "can_view": visible_envelopes(user).filter(pk=envelope.pk).exists(),
        "org": recipient.org,
        "membership": None,
        "is_admin": False,
    }
    if recipient.org_id is not None:
        membership = Membership.objects.filter(user=user, org_id=recipient.org_id).first()
        context["membership"] = membership
        context["is_admin"] = membership is not None and membership.role == Membership.Role.ADMIN
        context["state"] = "no_grant" if membership is not None else "not_member"
        return context
    own = (
        Membership.objects.filter(user=user, org__credit_code=recipient.org_credit_code)
        .select_related("org")
        .first()
        if recipient.org_credit_code
        else None
    )
    if own is not None:
        context.update(
            state="org_pending",
            org=own.org,
            membership=own,
            is_admin=own.role == Membership.Role.ADMIN,
            name_differs=not same_name(own.org.name, recipient.name),
        )
        return context
    query = urlencode({"name": recipient.name, "credit_code": recipient.org_credit_code})
    context.update(state="unbound", create_url=f"{reverse('orgs:create')}?{query}")
    return context
