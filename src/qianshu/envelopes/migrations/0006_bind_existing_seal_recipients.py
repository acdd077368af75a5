"""Seal recipients composed before binding named their organisation by name (and maybe a credit
code), and any verified organisation of that name could see and seal them. Bind each unbound
one only where that is unambiguous, and leave the rest unbound (nobody may seal them; the
initiator recalls and sends again choosing the organisation):

* with a credit code: the one verified organisation holding that code (a code names at most one
  verified organisation), and only if its name is the recipient's name — the old rule matched
  both, so this gives nobody access they did not have;
* without a credit code: exactly one verified organisation with the recipient's name.

Names compare as ``qianshu.orgs.verification.same_name`` folds them (copied here: a migration
must not change when that code does). Bound rows get no audit event (the chain records what
happened to the envelope, not schema changes); the binding shows in the recipient row.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import migrations

_NAME_FOLD = str.maketrans({"（": "(", "）": ")", "•": "·", "・": "·", "．": "·"})


def _fold(value: str) -> str:
    return "".join(value.split()).translate(_NAME_FOLD).casefold()


def bind(apps: Any, schema_editor: Any) -> None:
    Recipient = apps.get_model("envelopes", "Recipient")
    Organization = apps.get_model("orgs", "Organization")
    by_code: dict[str, Any] = {}
    by_name: dict[str, list[Any]] = defaultdict(list)
    for org in Organization.objects.filter(status="verified").only("pk", "name", "credit_code"):
        if org.credit_code:
            by_code[org.credit_code] = org
        by_name[_fold(org.name)].append(org)
    unbound = Recipient.objects.filter(role="seal", org__isnull=True).only(
        "pk", "name", "org_credit_code"
    )
    for recipient in unbound.iterator(chunk_size=1000):
        name = _fold(recipient.name)
        if not name:
            continue
        if recipient.org_credit_code:
            org = by_code.get(recipient.org_credit_code.strip().upper())
            if org is None or _fold(org.name) != name:
                continue
        else:
            named = by_name.get(name, [])
            if len(named) != 1:
                continue
            org = named[0]
        Recipient.objects.filter(pk=recipient.pk, org__isnull=True).update(org_id=org.pk)


class Migration(migrations.Migration):
    dependencies = [
        ("envelopes", "0005_seal_recipients_bound_to_orgs"),
        ("orgs", "0001_initial"),
    ]

    operations = [migrations.RunPython(bind, migrations.RunPython.noop)]
