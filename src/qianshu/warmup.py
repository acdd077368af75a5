"""Start-up warm-up of a web process, so that the first request of a page costs what the next
ones cost.

Django loads much lazily, on the first request that needs it: the URLconf (which imports every
view and, through them, pikepdf and pyHanko), the URL patterns' regular expressions
and the reverse lookup tables of each language and namespace, every template (parsed once, then
kept by the cached loader), and our seal font's character map (read with fontTools, ~0.3 s for
Noto Serif CJK), and the libraries our modules import where they are used (numpy, pypdfium2,
fpdf, openpyxl …). On a fresh process that made the first 印章制作, 批量签署 or 发起签署 page
take 0.5-1.8 s instead of 10-40 ms (``make bench``, section 7). :func:`warm_up` does all of
it once, when the server process starts (``wsgi.py`` / ``asgi.py``), not in
``AppConfig.ready``: management commands, the worker and the tests do not pay for it.

It runs in a thread of its own (:func:`warm_up_in_background`), so that the server answers its
first requests while it goes on (start-up target: under 2 s until the first answer); a request
that needs the URLconf meanwhile waits for its import, which the warm-up has begun. A fork waits
for the warm-up to end (``os.register_at_fork``): a preloading server (``gunicorn --preload``)
or the batch signer's processes never fork in the middle of an import.

Last, it moves everything alive then (modules, URL tables, templates: ~200,000 objects) out of
the garbage collector's sight (:func:`_settle`). Otherwise each full collection — one every few
requests of a long list — walks them all again, which took 70-80 ms: the p95 of 批量签署 was
twice its median (``make bench``, section 5). A preloading server freezes them before it forks,
so its workers also keep sharing those pages of memory.

It touches no database (a forking server must not share connections) and changes no state
besides the caches named above and the collector's.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import threading
import time
from pathlib import Path

from django.conf import settings
from django.template import TemplateSyntaxError, engines
from django.template.backends.django import DjangoTemplates
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils import translation

log = logging.getLogger(__name__)


def warm_up() -> float:
    """Load what the first requests would load; returns the seconds it took."""
    start = time.perf_counter()
    _urls()
    _templates()
    _fonts()
    _libraries()
    _settle()
    elapsed = time.perf_counter() - start
    log.info("warm-up done in %.2f s", elapsed)
    return elapsed


_thread: threading.Thread | None = None
_lock = threading.Lock()


def warm_up_in_background() -> threading.Thread:
    """Start :func:`warm_up` in a daemon thread (once per process) and return it."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_run, name="qianshu-warm-up", daemon=True)
            os.register_at_fork(before=wait)
            _thread.start()
        return _thread


def wait(timeout: float | None = None) -> bool:
    """Wait for the background warm-up, if one was started; True once none is running."""
    thread = _thread
    if thread is None or thread is threading.current_thread():
        return True
    thread.join(timeout)
    return not thread.is_alive()


def _run() -> None:
    try:
        warm_up()
    except Exception:  # a page that needs what failed reports it; the server keeps serving
        log.exception("warm-up failed")


def _tables(resolver: URLResolver) -> None:
    """Compile every pattern's regular expression and build the reverse tables of the current
    language, of this resolver and of each included one (``reverse("envelopes:…")`` reads the
    namespace's own tables): both are done per language, on first use."""
    resolver.pattern.regex  # noqa: B018 - the property compiles and caches it
    resolver.reverse_dict  # noqa: B018
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            _tables(entry)
        else:
            assert isinstance(entry, URLPattern)
            entry.pattern.regex  # noqa: B018


def _namespaces(resolver: URLResolver, prefix: str = "") -> None:
    """``reverse("orgs:…")`` builds (and keeps) a resolver of its own for a namespace under a
    path prefix, with its own tables: reverse one name of each namespace."""
    for namespace, (_pattern, included) in resolver.namespace_dict.items():
        path = f"{prefix}{namespace}:"
        # A namespace may hold no names in this configuration (its pages switched off), while
        # a template still asks it for one ({% url … as x %}): its tables are built all the same.
        name = next((n for n in included.reverse_dict if isinstance(n, str)), "none")
        try:
            reverse(path + name)
        except NoReverseMatch:  # it needs arguments, or there is none
            pass
        _namespaces(included, path)


def _urls() -> None:
    resolver = get_resolver()  # importing the URLconf imports every view
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            _tables(resolver)
            _namespaces(resolver)


def _templates() -> None:
    """Parse our own templates into the cached loader (Django's admin ones stay lazy)."""
    package = Path(__file__).resolve().parent
    for engine in engines.all():
        if not isinstance(engine, DjangoTemplates):
            continue
        for directory in engine.template_dirs:
            root = Path(directory).resolve()
            if not root.is_relative_to(package):
                continue
            for path in sorted(root.rglob("*.html")):
                try:
                    engine.get_template(path.relative_to(root).as_posix())
                except TemplateSyntaxError:  # the page that uses it shows the error
                    log.exception("template %s does not compile", path)


def _settle() -> None:
    """Collect what start-up left unreachable, then freeze the rest (``gc.freeze``): the
    start-up objects live as long as the process, and a full collection no longer walks them.
    Objects of a request answered meanwhile (the warm-up runs beside the first requests) are
    frozen too; they are freed as usual when no cycle holds them."""
    gc.collect()
    gc.freeze()


def _fonts() -> None:
    from qianshu.signing import seals
    from qianshu.signing.errors import ConfigurationError

    try:
        seals.preload_font()
    except ConfigurationError as exc:  # reported by the system checks and on the seal pages
        log.warning("seal font not preloaded: %s", exc)


# Imported by the code that uses them, not at start-up (~0.6 s together, so that the process
# answers sooner); imported here, in the background, so that the first page that needs one
# (a page image, a roster template, a void statement …) does not wait for it.
LAZY_LIBRARIES = ("numpy", "fontTools.ttLib", "pypdfium2", "fpdf", "httpx", "openpyxl")


def _libraries() -> None:
    for name in LAZY_LIBRARIES:
        importlib.import_module(name)
