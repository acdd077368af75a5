"""Every static file a template names exists (a renamed script once left a page loading a 404)."""

from __future__ import annotations

import re
from pathlib import Path

from django.contrib.staticfiles import finders

import qianshu

_STATIC = re.compile(r"""\{%\s*static\s+['"]([^'"]+)['"]\s*%\}""")


def test_every_static_file_named_in_a_template_exists() -> None:
    root = Path(qianshu.__file__).parent
    named = {
        (str(path.relative_to(root)), match)
        for path in root.rglob("templates/**/*.html")
        for match in _STATIC.findall(path.read_text(encoding="utf-8"))
    }
    assert len(named) > 20  # the scan found the templates
    missing = sorted((template, name) for template, name in named if not finders.find(name))
    assert missing == []


_IMPORT = re.compile(r"""^\s*(?:import|export)\b[^'"]*?from\s+['"](\.[^'"]+)['"]""", re.M)


def test_every_module_a_script_imports_exists() -> None:
    """Resolved as the browser does: relative to the script's place under /static/, where every
    app's static folder is served together (core's shared modules beside the apps' own)."""
    import posixpath

    root = Path(qianshu.__file__).parent
    scripts = list(root.rglob("static/**/*.mjs"))
    assert scripts
    missing = []
    for script in scripts:
        parts = script.relative_to(root).parts
        served = "/".join(parts[parts.index("static") + 1 :])  # its path under /static/
        for target in _IMPORT.findall(script.read_text(encoding="utf-8")):
            name = posixpath.normpath(posixpath.join(posixpath.dirname(served), target))
            if not finders.find(name):
                missing.append((served, target))
    assert missing == []
