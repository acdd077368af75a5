"""How organisation pages, logs and messages name a person: by the verified real name (实名).

A nickname (the account's display name) is chosen by its owner and proves nothing; in a seal
usage log, a grant or a member list it could pass for anyone. So people are named by their
verified name, and a person without one is shown as 未实名 with the masked phone number.
Lists select ``person_identity`` with the users (``PEOPLE``) to avoid a query per row.
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.orgs.models import SealGrant

#: ``select_related`` path from a user to their verified identity.
IDENTITY = "person_identity"


def real_name(user: User) -> str:
    """The verified real name, or "" for a person who is not verified."""
    try:
        return str(user.person_identity.name)
    except ObjectDoesNotExist:
        return ""


def person_label(user: User) -> str:
    """The verified real name, or 未实名 with the masked phone number."""
    return real_name(user) or _("未实名（%(phone)s）") % {"phone": user.masked_phone}


def key_label(grant: SealGrant) -> str:
    """An API key that holds a seal grant, as logs and lists name it: its name and prefix."""
    key = grant.api_key
    assert key is not None
    return _("API 密钥“%(name)s”（qsk_%(prefix)s）") % {"name": key.name, "prefix": key.prefix}


def holder_label(grant: SealGrant) -> str:
    """Who holds a grant: the member's verified name, or the API key."""
    if grant.api_key_id is not None:
        return key_label(grant)
    assert grant.grantee is not None
    return person_label(grant.grantee)
