"""The recipient link (``/s/<token>/``) sent by SMS and e-mail.

Not logged in: SMS-code login to the recipient's phone (named by an opaque hint, shown masked:
the number never appears in the URL), then back here. Logged in
as the right person: straight to the document (signing page on their turn, the envelope's
page otherwise). Logged in as someone else: a page saying which number the link was sent to.

A seal recipient's link is the contact person's way in, but being the contact gives no
documents: whoever may act for the organisation the step is bound to (a grant holder, an
administrator) goes to the document; anyone else sees what must happen first — for an unbound
step, which organisation (name and credit code) must verify, with 创建组织 prefilled.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from qianshu.accounts.hints import login_url
from qianshu.accounts.models import User
from qianshu.accounts.phones import mask_phone
from qianshu.core.meta import request_meta
from qianshu.envelopes.access import visible_envelopes
from qianshu.envelopes.actions.turns import do_claim_recipient
from qianshu.envelopes.links import recipient_from_token
from qianshu.envelopes.models import Recipient
from qianshu.envelopes.views.seal_help import seal_help


def link_view(request: HttpRequest, token: str) -> HttpResponse:
    recipient = recipient_from_token(token)
    if recipient is None:
        return render(request, "envelopes/link_invalid.html", status=404)
    envelope = recipient.envelope
    if not request.user.is_authenticated:
        return HttpResponseRedirect(login_url(request.path, recipient.phone))
    user = request.user
    assert isinstance(user, User)
    if recipient.role == Recipient.Role.SEAL:
        if not visible_envelopes(user).filter(pk=envelope.pk).exists():
            if not envelope.is_active():
                return render(request, "envelopes/link_invalid.html", status=404)
            return render(request, "envelopes/sign/no_seal.html", seal_help(user, recipient))
    else:
        wrong = (recipient.user_id is not None and recipient.user_id != user.pk) or (
            recipient.user_id is None and recipient.phone and recipient.phone != user.phone
        )
        if wrong:
            return render(
                request,
                "envelopes/link_wrong_account.html",
                {"masked_phone": mask_phone(recipient.phone) if recipient.phone else ""},
                status=403,
            )
        if recipient.user_id is None:
            do_claim_recipient(recipient, actor=user, meta=request_meta(request))
    if envelope.is_active() and recipient.is_turn:
        return HttpResponseRedirect(reverse("envelopes:sign", args=[envelope.uuid]))
    return HttpResponseRedirect(envelope.get_absolute_url())
