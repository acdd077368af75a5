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
