"""The web process's start-up warm-up (qianshu.warmup, run by wsgi.py / asgi.py): after it, the
first request of a page finds the URLconf, the URL tables, our templates and the seal font
loaded. The resulting speed is measured by ``make bench`` (section 7), not here."""

from __future__ import annotations

import gc
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.template import engines
from django.template.backends.django import DjangoTemplates
from django.template.loaders.cached import Loader as CachedLoader
from django.urls import NoReverseMatch, get_resolver, resolvers, reverse
from django.utils import translation

from qianshu import warmup
from qianshu.signing import seals
from qianshu.signing.errors import ConfigurationError

PAGES = ("orgs/seals/new.html", "envelopes/lists/batch.html", "envelopes/compose/basics.html")


def _cached_loader() -> CachedLoader:
    backend = engines["django"]
    assert isinstance(backend, DjangoTemplates)
    (loader,) = [x for x in backend.engine.template_loaders if isinstance(x, CachedLoader)]
    return loader


def test_warm_up_parses_our_templates_and_builds_the_url_tables() -> None:
    loader = _cached_loader()
    loader.reset()
    resolver = get_resolver()
    resolver._reverse_dict.clear()
    warmup.warm_up()
    parsed = set(loader.get_template_cache)
    assert set(PAGES) <= parsed
    ours = Path(warmup.__file__).parent
    assert len(parsed) >= len(list(ours.glob("*/templates/**/*.html")))
    assert not any(name.startswith("admin/") for name in parsed)  # Django's own stay lazy
    assert {"zh-hans", "en"} <= set(resolver._reverse_dict)


def test_after_warm_up_reversing_builds_no_url_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not the root's, not a namespace's (``orgs:``, built apart under its path prefix), not
    one whose pages are switched off (the templates still ask ``verification:page``)."""
    resolvers.get_ns_resolver.cache_clear()
    get_resolver()._reverse_dict.clear()
    warmup.warm_up()
    built: list[str] = []
    populate = resolvers.URLResolver._populate

    def spy(self: resolvers.URLResolver) -> None:
        built.append(str(self.pattern))
        populate(self)

    monkeypatch.setattr(resolvers.URLResolver, "_populate", spy)
    for code in ("zh-hans", "en"):
        with translation.override(code):
            assert reverse("orgs:seals", args=[uuid.uuid4()]).startswith("/orgs/")
            assert reverse("envelopes:batch-sign") == "/envelopes/batch-sign/"
            try:
                reverse("verification:page")
            except NoReverseMatch:
                pass
    assert built == []


def test_warm_up_freezes_what_start_up_made() -> None:
    """A full collection no longer walks the start-up objects (URL tables, templates, modules):
    with them, each one took 70-80 ms in a list's request."""
    gc.unfreeze()
    before = len(gc.get_objects())
    warmup.warm_up()
    assert gc.get_freeze_count() >= before // 2
    assert len(gc.get_objects()) < before // 10


def test_warm_up_reads_the_seal_font() -> None:
    seals._font_info.cache_clear()
    warmup.warm_up()
    assert seals._font_info.cache_info().currsize == 1


def test_a_missing_seal_font_does_not_stop_the_server(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def missing() -> None:
        raise ConfigurationError("seal font not found: /nowhere.ttc")

    monkeypatch.setattr(seals, "preload_font", missing)
    with caplog.at_level(logging.WARNING, logger="qianshu.warmup"):
        warmup.warm_up()
    assert "seal font not preloaded" in caplog.text and "/nowhere.ttc" in caplog.text


@pytest.mark.parametrize("entry", ["qianshu.wsgi", "qianshu.asgi"])
def test_the_server_entry_points_warm_up(entry: str, tmp_path: Path) -> None:
    """Imported as gunicorn / an ASGI server does, with the development settings."""
    code = (
        f"import {entry}, sys\n"
        "from qianshu import warmup\n"
        "from qianshu.signing import seals\n"
        "assert warmup.wait(100)\n"
        "sys.exit(0 if seals._font_info.cache_info().currsize == 1 else 1)\n"
    )
    env = {"QIANSHU_DEBUG": "1", "QIANSHU_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    # The code under test, not the installed copy (a worktree runs with PYTHONPATH=src).
    env.update({k: v for k, v in os.environ.items() if k == "PYTHONPATH"})
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]


def test_the_apps_and_the_urlconf_import_none_of_the_lazy_libraries(tmp_path: Path) -> None:
    """What the process needs before its first answer: the apps and every view. The libraries
    the warm-up preloads in the background are imported where they are used, not there (the
    start-up target, 2 s, is measured by ``make bench`` section 7)."""
    code = (
        "import sys, django\n"
        "django.setup()\n"
        "from django.urls import get_resolver\n"
        "get_resolver().url_patterns\n"
        "from qianshu.warmup import LAZY_LIBRARIES\n"
        "print(' '.join(m for m in LAZY_LIBRARIES if m in sys.modules))\n"
    )
    env = {
        "QIANSHU_DEBUG": "1",
        "QIANSHU_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "qianshu.settings",
        "PATH": "/usr/bin:/bin",
    }
    env.update({k: v for k, v in os.environ.items() if k == "PYTHONPATH"})
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().split() == []
