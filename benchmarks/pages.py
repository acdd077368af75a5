"""Page benchmarks (part of ``make bench``): server time of the pages the walkthrough found slow.

7. 印章制作 (the generator page of a new seal and its first preview image), 批量签署 (the
   confirmation page of ten ticked tasks, signature and seal tasks) and 发起签署 (the compose
   page), each measured in fresh processes against the embedded defaults: SQLite and local
   files in a temporary data directory, ``DEBUG`` off, started as a WSGI server starts
   (``qianshu.wsgi`` imported first). The first request of a page in a fresh process (cold) is
   reported apart from the requests after it (warm); both as medians over the runs. Server time:
   Django's test client, no network. Target: under 300 ms each, cold included.

Then (``benchmarks/walk.py``) the start-up of ``gunicorn qianshu.wsgi`` until it answers its
first request (target: under 2 s), and a walk through every page of the URL resolver on the
demo data of ``make run``, as each demo persona: the ten slowest pages, the pages walked, the
peak RSS, what was skipped and why.

The data (a verified person, their verified organisation with a granted 合同专用章, and the tasks
waiting for them) is seeded once by another process, so that nothing the measured process does
before its first request has drawn a seal or opened a font.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

TARGET_MS = 300.0
TASKS = 10
PAGES = {
    "seal": "印章制作 page",
    "seal-preview": "印章制作 preview",
    "batch": "批量签署 page",
    "compose": "发起签署 page",
}


def _environment(data_dir: str) -> dict[str, str]:
    # Bytecode is cached as in a deployment (the seeding process writes it).
    dropped = ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QIANSHU_") and k not in dropped}
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    env.update(
        QIANSHU_DATA_DIR=data_dir,
        QIANSHU_SECRET_KEY=base64.urlsafe_b64encode(secrets.token_bytes(48)).decode(),
        QIANSHU_MASTER_KEY=key,
        DJANGO_SETTINGS_MODULE="qianshu.settings",
        PYTHONPATH=os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH", "")])),
    )
    return env


def _child(env: dict[str, str], *args: str) -> Any:
    """Run ``python -m benchmarks.pages ARGS`` and return the JSON of its last output line."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.pages", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks.pages {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the seeding process ----------------------------------------------------------------------


def seed() -> dict[str, Any]:
    """Migrate, create the platform PKI, the people, the organisation and the tasks; return the
    session cookie and the URLs of the measured pages."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    call_command("migrate", verbosity=0)
    from tests.envelopes.helpers import Builder
    from tests.support.personas import make_seal_org, make_signer

    from qianshu.core.meta import TASK
    from qianshu.envelopes import batch
    from qianshu.envelopes.actions import compose as compose_actions
    from qianshu.pki.actions import do_init_pki

    do_init_pki(name="Bench")
    me = make_signer("bench", "13600000001", real_name="王明")
    other = make_signer("other", "13600000002", real_name="李红")
    org = make_seal_org(me, "厦门某某科技有限公司")
    build = Builder()
    for i in range(TASKS):
        party: Any = org if i % 2 else me
        envelope = build.draft(
            other, [("seal" if i % 2 else "sign", 1, party)], pages=2, title=f"采购合同 {i}"
        )
        compose_actions.do_send_envelope(envelope, actor=other, meta=TASK)
    items = batch.pending_items(me)
    assert len(items) == TASKS, len(items)
    client = Client()
    client.force_login(me)
    ids = "&".join(f"ids={item.recipient.envelope.uuid}" for item in items)
    seals = reverse("orgs:seal-new", args=[org.uuid])
    return {
        "session": client.cookies["sessionid"].value,
        "urls": {
            "seal": f"{seals}?kind=contract",
            "seal-preview": None,  # read from the page: the URL its <img> asks for
            "batch": f"{reverse('envelopes:batch-sign')}?{ids}",
            "compose": reverse("envelopes:new"),
        },
    }


# --- a measured process -------------------------------------------------------------------------


def _preview_url(html: str) -> str:
    import html as html_module
    import re

    match = re.search(r'id="seal-preview"[^>]*\ssrc="([^"]+)"', html)
    assert match, "no preview image on the seal page"
    return html_module.unescape(match.group(1))


def measure(page: str, session: str, urls: dict[str, str], warm: int) -> dict[str, Any]:
    """In this fresh process: start as the WSGI server does, wait for its warm-up, then time
    the page ``1 + warm`` times (ms)."""
    start = time.perf_counter()
    from django.test import Client

    import qianshu.wsgi  # noqa: F401 - what gunicorn / runserver import before any request
    from qianshu import warmup

    warmup.wait()  # the first request of a page once the process has warmed up
    client = Client()
    client.handler.load_middleware()  # WSGIHandler does it in get_wsgi_application()
    startup = (time.perf_counter() - start) * 1000
    client.cookies["sessionid"] = session
    url = urls[page]
    if page == "seal-preview":
        # The page is fetched first (as the browser does); the image is what is measured.
        url = _preview_url(client.get(urls["seal"]).content.decode())
    times = []
    for i in range(1 + warm):
        wanted = url
        if page == "seal-preview" and i:
            # Another size each time (31-59 mm): a new picture, not one from the cache.
            assert "size_mm=40" in url, url
            size = [mm for mm in range(31, 60) if mm != 40][(i - 1) % 28]
            wanted = url.replace("size_mm=40", f"size_mm={size}", 1)
        start = time.perf_counter()
        response = client.get(wanted)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (wanted, response.status_code)
    return {"startup": startup, "cold": times[0], "warm": times[1:]}


# --- the report ----------------------------------------------------------------------------------


def run(*, quick: bool) -> None:
    """Print section 7."""
    processes, warm = (2, 5) if quick else (5, 20)
    with tempfile.TemporaryDirectory(prefix="qianshu-bench-pages-") as data_dir:
        env = _environment(data_dir)
        seeded = _child(env, "seed")
        startups: list[float] = []
        print(
            f"7. Pages on a cold load (SQLite, DEBUG off, {processes} fresh processes each, "
            "server time/request)"
        )
        for page, label in PAGES.items():
            cold, warm_times = [], []
            for _ in range(processes):
                result = _child(
                    env, "measure", page, seeded["session"], json.dumps(seeded["urls"]), str(warm)
                )
                startups.append(result["startup"])
                cold.append(result["cold"])
                warm_times += result["warm"]
            print(
                f"   {label:14s} cold median {statistics.median(cold):7.1f} ms"
                f"   warm median {statistics.median(warm_times):6.1f} ms"
            )
        print(f"   (target: under {TARGET_MS:.0f} ms each, cold included)")
        print(
            f"   process start-up (import qianshu.wsgi and its warm-up, before the first request)"
            f" median {statistics.median(startups):.0f} ms"
        )
    from benchmarks import walk

    walk.run(quick=quick)


def main(argv: list[str]) -> int:
    """No arguments (or ``--quick``): section 7 alone; ``seed`` / ``measure``: the children."""
    if not argv or argv == ["--quick"]:
        run(quick=bool(argv))
    elif argv[0] == "seed":
        print(json.dumps(seed()))
    elif argv[0] == "measure":
        page, session, urls, warm = argv[1:5]
        print(json.dumps(measure(page, session, json.loads(urls), int(warm))))
    else:
        raise SystemExit(f"unknown command {argv[0]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
