"""Who may see, use and manage a template. Missing and forbidden both raise Http404.

* A personal template: its owner only.
* An organisation's template: the organisation's administrators and the template's owner
  manage it (while they are members); they and the members it is shared with use it. A person
  who left the organisation loses both, whatever the template says.
"""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet
from django.http import Http404

from qianshu.accounts.models import User
from qianshu.doctemplates.models import Template
from qianshu.orgs.models import Membership


def _member_orgs(actor: User) -> tuple[list[int], list[int]]:
    """(every organisation of the actor, those where the actor is an administrator)."""
    rows = list(Membership.objects.filter(user=actor).values_list("org_id", "role"))
    return [org for org, _role in rows], [
        org for org, role in rows if role == Membership.Role.ADMIN
    ]


def usable_templates(actor: User) -> QuerySet[Template]:
    """The templates ``actor`` may use (active or archived; callers filter the status)."""
    if not actor.is_authenticated:
        return Template.objects.none()
    orgs, admin_of = _member_orgs(actor)
    return Template.objects.filter(
        Q(org__isnull=True, owner=actor)
        | Q(org__in=admin_of)
        | Q(org__in=orgs, owner=actor)
        | Q(org__in=orgs, shared_with=actor)
    ).distinct()


def managed_templates(actor: User) -> QuerySet[Template]:
    """The templates ``actor`` manages (the rule of :func:`can_manage`, as one query)."""
    if not actor.is_authenticated:
        return Template.objects.none()
    orgs, admin_of = _member_orgs(actor)
    return Template.objects.filter(
        Q(org__isnull=True, owner=actor) | Q(org__in=admin_of) | Q(org__in=orgs, owner=actor)
    )


def can_manage(actor: User, template: Template) -> bool:
    """Edit (new version), share, archive: the owner (still a member for an organisation's
    template) or the organisation's administrators."""
    if template.org_id is None:
        return template.owner_id == actor.pk
    orgs, admin_of = _member_orgs(actor)
    return template.org_id in admin_of or (
        template.owner_id == actor.pk and template.org_id in orgs
    )


def access_template_by_uuid(
    actor: User, template_uuid: object, *, manage: bool = False
) -> Template:
    """A template ``actor`` may use (``manage``: may manage), or 404."""
    try:
        key = uuid.UUID(str(template_uuid))
    except ValueError:
        raise Http404 from None
    template = usable_templates(actor).filter(uuid=key).select_related("org", "owner").first()
    if template is None or (manage and not can_manage(actor, template)):
        raise Http404
    return template
