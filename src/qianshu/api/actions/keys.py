"""Creating and revoking API keys (an organisation administrator, or ``create-api-key``)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.api.actions.seals import revoke_key_grants
from qianshu.api.errors import BadScopes
from qianshu.api.keys import new_key
from qianshu.api.models import ApiKey, Scope
from qianshu.core.meta import RequestMeta
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.models import OrgAction, Organization

MAX_NAME = 64


def clean_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = set(scopes)
    unknown = chosen - set(Scope.values)
    if unknown or not chosen:
        raise BadScopes(
            _("未知的权限范围：%(names)s") % {"names": ", ".join(sorted(unknown))}
            if unknown
            else ""
        )
    return [s for s in Scope.values if s in chosen]


def do_create_api_key(
    org: Organization,
    *,
    name: str,
    scopes: Iterable[str],
    actor: User,
    meta: RequestMeta,
) -> tuple[ApiKey, str]:
    """A new key of ``org`` and the key itself (shown once; only a digest is kept)."""
    chosen = clean_scopes(scopes)
    plain, prefix, digest = new_key()
    with transaction.atomic():
        key = ApiKey.objects.create(
            org=org,
            name=" ".join(name.split())[:MAX_NAME] or prefix,
            prefix=prefix,
            secret_sha256=digest,
            scopes=chosen,
            created_by=actor,
        )
        record_org_event(
            org,
            OrgAction.API_KEY_CREATED,
            actor=actor,
            meta=meta,
            key=f"qsk_{prefix}",
            name=key.name,
            scopes=chosen,
        )
    return key, plain


def do_revoke_api_key(key: ApiKey, *, actor: User, meta: RequestMeta) -> ApiKey:
    """Revoke a key for good (a call with it is refused from now on), with its seal grant."""
    with transaction.atomic():
        current = ApiKey.objects.select_for_update().get(pk=key.pk)
        if current.revoked_at is not None:
            return current
        current.revoked_at = timezone.now()
        current.save(update_fields=["revoked_at"])
        revoke_key_grants(current, actor=actor, meta=meta)
        record_org_event(
            current.org,
            OrgAction.API_KEY_REVOKED,
            actor=actor,
            meta=meta,
            key=f"qsk_{current.prefix}",
            name=current.name,
        )
    return current
