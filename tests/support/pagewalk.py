"""A walk through every page of the URL resolver, as each persona: shared by the page-walk test
(``tests/core/test_page_walk.py``) and ``make bench`` section 7 (``benchmarks/walk.py``).

:func:`patterns` lists every URL pattern (included ones recursively); :func:`skip_reason`
says which are not pages a browser GETs (Django's admin, the JSON API, protocol endpoints,
large downloads, links with a secret token); :func:`candidates` fills path parameters from the
database, each combination consistent (a document of that envelope, a seal of that
organisation …); :func:`personas` logs in every user, personally and for each of their
organisations, plus nobody; :func:`find` asks until a persona gets 200 (else 302), and stops
at the first 500. 405 marks a POST-only endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from qianshu.accounts.models import HandwrittenSignature, SignatureHandoff, User
from qianshu.doctemplates.models import Batch, Template
from qianshu.employment.models import Agreement, RosterEntry, Termination
from qianshu.envelopes.models import Document, Envelope
from qianshu.identity.models import VerificationAttempt
from qianshu.orgs.models import Invitation, Membership, Organization, Seal, SealGrant, SealUsage
from qianshu.webhooks.models import Endpoint

MAX_TRIES = 80  # requests spent looking for a persona and parameters that reach a page

# Not pages of the web UI: measured elsewhere (section 8) or Django's own.
SKIPPED_PREFIXES = {
    "admin:": "Django's admin (the operator's back office is /backoffice/)",
    "api:": "the JSON API (API keys, not sessions; section 8 measures it)",
}
SKIPPED = {
    "envelopes:download-zip": "a download of many envelopes' files as one ZIP",
    "doctemplates:batch-download": "a download of a whole batch's files as one ZIP",
    "pki:ocsp-get": "an OCSP request in the URL (a protocol endpoint, not a page)",
    "pki:ocsp": "an OCSP responder (POST of a DER request)",
    "pki:tsa": "the time-stamping authority (POST of a DER request)",
}
# Pages of development mode only (404 without DEBUG).
DEVELOPMENT_ONLY = {"notifications:outbox"}
# Links whose secret only the recipient of an SMS or e-mail has (the database keeps a hash).
TOKEN_PARAMS = {"token", "sha256", "encoded"}


@dataclass
class Persona:
    label: str
    client: Client
    user: User | None


@dataclass
class Outcome:
    """What :func:`find` saw for one URL pattern."""

    name: str
    status: int | None = None  # of the page walked (200, 302, 405), or the last one seen
    url: str = ""
    persona: str = ""
    cold_ms: float = 0.0  # the request that found it
    kind: str = ""  # content type
    statuses: dict[int, int] = field(default_factory=dict)  # every answer, by status

    @property
    def walked(self) -> bool:
        return self.status in (200, 302)


def patterns() -> Iterator[tuple[str, str, list[str]]]:
    """(name, route, parameter names) of every URL pattern, included ones recursively."""

    def walk(resolver: URLResolver, prefix: str, namespace: str) -> Iterator[Any]:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                inner = namespace + (f"{entry.namespace}:" if entry.namespace else "")
                yield from walk(entry, prefix + str(entry.pattern), inner)
            else:
                assert isinstance(entry, URLPattern)
                name = f"{namespace}{entry.name or ''}"
                yield name, prefix + str(entry.pattern), list(entry.pattern.regex.groupindex)

    seen: set[str] = set()
    for name, route, params in walk(get_resolver(), "", ""):
        if route not in seen:  # one route may be declared twice (a GET and a POST view)
            seen.add(route)
            yield name, route, params


def skip_reason(name: str, params: list[str]) -> str | None:
    for prefix, reason in SKIPPED_PREFIXES.items():
        if name.startswith(prefix):
            return reason
    if name in SKIPPED:
        return SKIPPED[name]
    if name in DEVELOPMENT_ONLY and not settings.DEBUG:
        return "a page of development mode only (QIANSHU_DEBUG)"
    if TOKEN_PARAMS & set(params):
        return "a link with a secret token only its recipient has (the database keeps a hash)"
    return None


def candidates(params: list[str]) -> list[dict[str, Any]]:
    """Values of the parameters from the database, each combination consistent (a document of
    that envelope, a seal of that organisation …); newest first."""
    key = frozenset(params)
    by_org: dict[str, Any] = {
        "seal_uuid": (Seal.objects.all(), lambda s: {"org_uuid": s.org.uuid, "seal_uuid": s.uuid}),
        "member_id": (
            Membership.objects.all(),
            lambda m: {"org_uuid": m.org.uuid, "member_id": m.pk},
        ),
        "grant_uuid": (
            SealGrant.objects.select_related("seal__org"),
            lambda g: {"org_uuid": g.seal.org.uuid, "grant_uuid": g.uuid},
        ),
        "usage_id": (
            SealUsage.objects.select_related("seal__org"),
            lambda u: {"org_uuid": u.seal.org.uuid, "usage_id": u.pk},
        ),
        "invitation_uuid": (
            Invitation.objects.all(),
            lambda i: {"org_uuid": i.org.uuid, "invitation_uuid": i.uuid},
        ),
        "endpoint_uuid": (
            Endpoint.objects.all(),
            lambda e: {"org_uuid": e.org.uuid, "endpoint_uuid": e.uuid},
        ),
    }
    if not params:
        return [{}]
    if key == {"envelope_uuid", "document_id", "page"}:
        docs = Document.objects.select_related("envelope").order_by("-pk")
        return [{"envelope_uuid": d.envelope.uuid, "document_id": d.pk, "page": 1} for d in docs]
    if key == {"envelope_uuid", "document_id"}:
        docs = Document.objects.select_related("envelope").order_by("-pk")
        return [{"envelope_uuid": d.envelope.uuid, "document_id": d.pk} for d in docs]
    for param, (queryset, values) in by_org.items():
        if key == {"org_uuid", param}:
            return [values(row) for row in queryset.order_by("-pk")]
    single: dict[str, Any] = {
        "envelope_uuid": Envelope.objects.order_by("-pk").values_list("uuid", flat=True),
        "org_uuid": Organization.objects.order_by("pk").values_list("uuid", flat=True),
        "template_uuid": Template.objects.order_by("-pk").values_list("uuid", flat=True),
        "batch_uuid": Batch.objects.order_by("-pk").values_list("uuid", flat=True),
        "agreement_uuid": Agreement.objects.order_by("-pk").values_list("uuid", flat=True),
        "termination_uuid": Termination.objects.order_by("-pk").values_list("uuid", flat=True),
        "entry_uuid": RosterEntry.objects.order_by("pk").values_list("uuid", flat=True),
        "signature_id": HandwrittenSignature.objects.order_by("-pk").values_list("pk", flat=True),
        "handoff_id": SignatureHandoff.objects.order_by("-pk").values_list("pk", flat=True),
        "user_id": User.objects.order_by("pk").values_list("pk", flat=True),
        "attempt_uuid": VerificationAttempt.objects.order_by("-pk").values_list("uuid", flat=True),
        "ca_id": ["root", "issuing"],
    }
    if len(params) == 1 and params[0] in single:
        return [{params[0]: value} for value in single[params[0]]]
    return []


def personas() -> list[Persona]:
    """Every user acting personally, then for each of their organisations (switched to as in
    the top bar), then nobody logged in."""
    found: list[Persona] = []
    for user in User.objects.order_by("-is_superuser", "pk"):
        name = user.display_name or user.phone
        found.append(Persona(name, _logged_in(user), user))
        for membership in Membership.objects.filter(user=user).select_related("org"):
            client = _logged_in(user)
            switched = client.post(reverse("orgs:switch"), {"org": membership.org.uuid})
            assert switched.status_code == 302, switched.status_code
            found.append(Persona(f"{name} for {membership.org.name}", client, user))
    found.append(Persona("(anonymous)", Client(raise_request_exception=False), None))
    return found


def _logged_in(user: User) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def timed_get(client: Client, url: str) -> tuple[int, float, str]:
    """(status, server time in ms, content type) of one GET."""
    start = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - start) * 1000
    return response.status_code, elapsed, response.get("Content-Type", "").split(";")[0]


def find(name: str, params: list[str], people: list[Persona]) -> Outcome | None:
    """The first persona and parameters that get 200 (else the first 302; 405: POST-only);
    stops at a 500. ``None``: the database has no values for the parameters."""
    values = candidates(params)
    if not values:
        return None
    fallback: Outcome | None = None
    seen = Outcome(name)
    for kwargs in values:
        url = reverse(name, kwargs=kwargs)
        for persona in people:
            client = persona.client
            if "logout" in name and persona.user is not None:
                client = _logged_in(persona.user)  # the walk goes on with the persona's session
            status, elapsed, kind = timed_get(client, url)
            seen.statuses[status] = seen.statuses.get(status, 0) + 1
            outcome = Outcome(name, status, url, persona.label, elapsed, kind, seen.statuses)
            if status in (200, 405, 500):
                return outcome
            if status == 302 and fallback is None:
                fallback = outcome
            if sum(seen.statuses.values()) >= MAX_TRIES:
                return fallback or outcome
    return fallback or Outcome(name, seen.statuses and max(seen.statuses), statuses=seen.statuses)
