"""（推荐）法定代表人认证: the link the legal representative opens (7 days; only the SHA-256 of
its token is stored). The state changes are in :mod:`qianshu.orgs.actions.legal_rep`, the
link's lookup is :func:`qianshu.orgs.access.access_legal_rep_request`.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.urls import reverse

from qianshu.orgs.models import Organization, OrgVerification

Method = Organization.Method
Status = OrgVerification.Status
Evidence = OrgVerification.Evidence

LEGAL_REP_LINK_LIFE = dt.timedelta(days=7)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def legal_rep_link(token: str) -> str:
    return settings.PUBLIC_URL + reverse("orgs:legal-rep-authorise", args=[token])
