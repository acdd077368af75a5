"""Part of ``make bench`` section 7: the web process's start-up, and a walk through every page.

* Start-up: ``gunicorn qianshu.wsgi`` (one sync worker, DEBUG off, the embedded defaults:
  SQLite and local files) is started on 127.0.0.1 and asked for ``/login/`` until it answers
  200; the time from starting the process to that answer, median of a few starts, against the
  2 s target; then the worker's peak RSS once the walk's heaviest pages have been asked for.
* The walk: the demo data of ``make run`` (the same management commands, in child processes,
  in a fresh data directory) and one process that, as each demo persona (the operator, alice,
  bob, charlie, the employment demo's people, and nobody logged in), GETs every page of the URL
  resolver, path parameters filled from the demo data. A page is walked with the first persona
  and parameters that get 200 (else 302); 405 marks a POST-only endpoint. Server time through
  Django's test client, no network: cold is that first request, warm the median of 3 after it.
  Prints the ten slowest pages against the 300 ms target, the pages walked and the peak RSS,
  the endpoints skipped and why, and every page that answered 500 or that no persona reached.

The demo data exists only in development mode (the commands refuse without ``QIANSHU_DEBUG``),
so the walk runs with ``DEBUG`` on, as ``make run`` does.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

PAGE_TARGET_MS = 300.0
STARTUP_TARGET_S = 2.0
RSS_TARGET_MB = 500.0
WARM = 3
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
# Links whose secret only the recipient of an SMS or e-mail has (the database keeps a hash).
TOKEN_PARAMS = {"token", "sha256", "encoded"}


# --- the walking process ------------------------------------------------------------------------


def _patterns() -> Iterator[tuple[str, str, list[str]]]:
    """(name, route, parameter names) of every URL pattern, included ones recursively."""
    from django.urls import URLPattern, URLResolver, get_resolver

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


def _candidates(params: list[str]) -> list[dict[str, Any]]:
    """Parameter values from the demo data, each combination consistent (a document of that
    envelope, a seal of that organisation …)."""
    from qianshu.accounts.models import HandwrittenSignature, SignatureHandoff, User
    from qianshu.doctemplates.models import Batch, Template
    from qianshu.employment.models import Agreement, RosterEntry, Termination
    from qianshu.envelopes.models import Document, Envelope
    from qianshu.identity.models import VerificationAttempt
    from qianshu.orgs.models import Invitation, Membership, Organization, Seal, SealGrant, SealUsage
    from qianshu.webhooks.models import Endpoint

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


def _skip_reason(name: str, params: list[str]) -> str | None:
    for prefix, reason in SKIPPED_PREFIXES.items():
        if name.startswith(prefix):
            return reason
    if name in SKIPPED:
        return SKIPPED[name]
    if TOKEN_PARAMS & set(params):
        return "a link with a secret token only its recipient has (the database keeps a hash)"
    return None


def _get(client: Any, url: str) -> tuple[int, float, str]:
    start = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - start) * 1000
    return response.status_code, elapsed, response.get("Content-Type", "")


def walk() -> dict[str, Any]:
    """In this process: start as the WSGI server does, then walk every page."""
    from django.test import Client
    from django.urls import reverse

    import qianshu.wsgi  # noqa: F401 - what gunicorn imports before any request
    from qianshu.accounts.models import User
    from qianshu.orgs.models import Membership

    # Each person acting personally, then for each of their organisations (switched to as in
    # the top bar), then nobody logged in.
    clients: list[tuple[str, Any]] = []
    for user in User.objects.order_by("-is_superuser", "pk"):
        name = user.display_name or user.phone
        client = Client(raise_request_exception=False)
        client.force_login(user)
        clients.append((name, client, user))
        for membership in Membership.objects.filter(user=user).select_related("org"):
            client = Client(raise_request_exception=False)
            client.force_login(user)
            switched = client.post(reverse("orgs:switch"), {"org": membership.org.uuid})
            assert switched.status_code == 302, switched.status_code
            clients.append((f"{name} for {membership.org.name}", client, user))
    clients.append(("(anonymous)", Client(raise_request_exception=False), None))

    walked, skipped, problems, post_only = [], [], [], []
    patterns = list(_patterns())
    for name, route, params in patterns:
        reason = _skip_reason(name, params)
        if reason:
            skipped.append({"name": name, "route": route, "reason": reason})
            continue
        found = _find(name, params, clients, reverse)
        if found is None:
            problems.append(
                {"name": name, "route": route, "problem": "the demo data has nothing to fill it"}
            )
        elif found["status"] == 405:
            post_only.append(name)
        elif found["status"] in (200, 302):
            walked.append(found)
        else:
            problems.append(
                {"name": name, "route": route, "problem": f"answers {found['statuses']}"}
            )
    for page in walked:
        client = next(client for persona, client, _ in clients if persona == page["persona"])
        page["warm"] = statistics.median(_get(client, page["url"])[1] for _ in range(WARM))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "patterns": len(patterns),
        "personas": len(clients),
        "walked": walked,
        "skipped": skipped,
        "post_only": post_only,
        "problems": problems,
        "rss_mb": rss,
    }


def _find(name: str, params: list[str], clients: list[tuple[str, Any, Any]], reverse: Any) -> Any:
    """The first (persona, URL) that gets 200, else 302, else what was seen; ``None`` if the
    demo data has no values for the parameters."""
    candidates = _candidates(params)
    if not candidates:
        return None
    fallback: dict[str, Any] | None = None
    statuses: dict[int, int] = {}
    tries = 0
    for kwargs in candidates:
        url = reverse(name, kwargs=kwargs)
        for persona, client, user in clients:
            if "logout" in name:  # a GET must not end the session the walk goes on with
                client = type(client)(raise_request_exception=False)
                if user is not None:
                    client.force_login(user)
            status, elapsed, kind = _get(client, url)
            statuses[status] = statuses.get(status, 0) + 1
            tries += 1
            page = {"name": name, "url": url, "persona": persona, "status": status}
            page.update(cold=elapsed, kind=kind.split(";")[0])
            if status in (200, 405):
                return page
            if status == 302 and fallback is None:
                fallback = page
            if status == 500 or tries >= MAX_TRIES:
                return fallback or {**page, "statuses": statuses}
    return fallback or {"name": name, "status": None, "statuses": statuses}


# --- the start-up measurement -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker_rss_mb(master: int) -> float:
    """Peak RSS (VmHWM) of the gunicorn worker, the master's child."""
    with open(f"/proc/{master}/task/{master}/children") as children:
        pids = children.read().split()
    peaks = []
    for pid in pids:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
    return max(peaks, default=0.0)


def start_up(env: dict[str, str], heavy: list[str]) -> tuple[float, float]:
    """Start gunicorn, return (seconds until ``/login/`` answers 200, the worker's peak RSS in
    MB after it served ``heavy`` URLs, asked without a session: a login redirect or a 404)."""
    port = _free_port()
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    start = time.perf_counter()
    server = subprocess.Popen(
        [gunicorn, "qianshu.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1", "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = start + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            if server.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError(f"gunicorn did not answer (exit code {server.poll()})")
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        for url in heavy:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{url}", timeout=30).close()
            except urllib.error.HTTPError:
                pass
        return elapsed, _worker_rss_mb(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


# --- the report ----------------------------------------------------------------------------------


def _seed(env: dict[str, str]) -> None:
    """The commands ``make run`` runs, each in its own process, in development mode."""
    dev = {**env, "QIANSHU_DEBUG": "1"}
    for command in (
        ["migrate", "--noinput", "-v0"],
        ["init-pki", "--if-absent"],
        ["demo-data", "--if-absent"],
        ["demo-envelopes", "--if-absent"],
        ["demo-employment", "--if-absent"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "qianshu", *command],
            env=dev,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"qianshu {command[0]} failed:\n{done.stderr[-3000:]}")


def run(*, quick: bool) -> None:
    """Print the start-up and the walk (section 7, after the cold pages)."""
    from benchmarks.pages import _environment

    starts = 2 if quick else 5
    with tempfile.TemporaryDirectory(prefix="qianshu-bench-walk-") as data_dir:
        env = _environment(data_dir)
        _seed(env)
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.walk", "walk"],
            env={**env, "QIANSHU_DEBUG": "1"},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the walk failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        walked = sorted(result["walked"], key=lambda page: -page["warm"])
        heavy = [page["url"] for page in walked[:10]]
        measured = [start_up(env, heavy) for _ in range(starts)]
    startup = statistics.median(seconds for seconds, _rss in measured)
    print("   web process start-up (gunicorn qianshu.wsgi, 1 worker, DEBUG off) until /login/ ")
    print(
        f"   answers: median {startup:.2f} s of {starts} starts   (target < {STARTUP_TARGET_S:.0f}"
        f" s); worker peak RSS {max(rss for _s, rss in measured):.0f} MB"
    )
    print(
        f"   Walk through every page on the demo data of `make run` (DEBUG on, test client): "
        f"{len(walked)} pages walked of {result['patterns']} URL patterns, "
        f"{result['personas']} personas"
    )
    print("   ten slowest (warm: median of 3 after the first request; cold: the first)")
    for page in walked[:10]:
        mark = "" if max(page["warm"], page["cold"]) < PAGE_TARGET_MS else "  over target"
        print(
            f"     {page['name']:38s} warm {page['warm']:6.1f} ms  cold {page['cold']:6.1f} ms"
            f"  as {page['persona']}{mark}"
        )
    over = [p["name"] for p in walked if max(p["warm"], p["cold"]) >= PAGE_TARGET_MS]
    print(
        f"   pages over {PAGE_TARGET_MS:.0f} ms (warm or cold): {len(over)}"
        + (f" ({', '.join(over)})" if over else "")
    )
    print(
        f"   walking process peak RSS {result['rss_mb']:.0f} MB   (target < {RSS_TARGET_MB:.0f} MB)"
    )
    print(f"   POST-only (405 on GET), not walked: {len(result['post_only'])}")
    reasons: dict[str, list[str]] = {}
    for entry in result["skipped"]:
        reasons.setdefault(entry["reason"], []).append(entry["name"])
    for reason, names in reasons.items():
        shown = ", ".join(names[:6]) + (f" … ({len(names)})" if len(names) > 6 else "")
        print(f"   skipped, {reason}: {shown}")
    for problem in result["problems"]:
        print(f"   NOT WALKED {problem['name']} ({problem['route']}): {problem['problem']}")
    print()


def main(argv: list[str]) -> int:
    if argv == ["walk"]:
        print(json.dumps(walk(), default=str))
    elif not argv or argv == ["--quick"]:
        run(quick=bool(argv))
    else:
        raise SystemExit(f"unknown command {argv[0]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
