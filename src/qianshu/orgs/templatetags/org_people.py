"""``{% load org_people %}``: ``{{ user|person }}`` (verified name, or 未实名 + masked phone),
``{{ user|real_name }}`` (verified name or "") and ``{{ grant|holder }}`` (the member or the
API key holding a seal grant)."""

from __future__ import annotations

from django import template

from qianshu.accounts.models import User
from qianshu.orgs.models import SealGrant
from qianshu.orgs.people import holder_label, person_label
from qianshu.orgs.people import real_name as _real_name

register = template.Library()


@register.filter
def person(user: User | None) -> str:
    return person_label(user) if user is not None else ""


@register.filter
def real_name(user: User | None) -> str:
    return _real_name(user) if user is not None else ""


@register.filter
def holder(grant: SealGrant | None) -> str:
    return holder_label(grant) if grant is not None else ""
