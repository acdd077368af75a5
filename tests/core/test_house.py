"""The layers of STYLE.md, checked on the source: actions never see the request, every state
change lives in an ``actions/`` package and every access helper in its app's ``access.py``.

The checks read ``src/qianshu`` with :mod:`ast` (nothing is imported), so a regression fails
here whatever the tests of the app cover.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "qianshu"

APPS = [
    "accounts",
    "identity",
    "notifications",
    "storage",
    "pki",
    "orgs",
    "webhooks",
    "api",
    "envelopes",
]

Function = ast.FunctionDef | ast.AsyncFunctionDef


def _modules(app: str) -> Iterator[tuple[Path, ast.Module]]:
    """Every module of ``app`` except its migrations."""
    for path in sorted((SRC / app).rglob("*.py")):
        if "migrations" in path.relative_to(SRC).parts:
            continue
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _in_actions(app: str, path: Path) -> bool:
    return path.relative_to(SRC / app).parts[0] == "actions"


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(SRC.parent)}:{getattr(node, 'lineno', 0)}"


def _names_request(annotation: ast.expr | None) -> bool:
    """Whether an annotation mentions ``HttpRequest`` (``HttpRequest | None``, ``"HttpRequest"``,
    ``http.HttpRequest`` ...)."""
    if annotation is None:
        return False
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name) and node.id == "HttpRequest":
            return True
        if isinstance(node, ast.Attribute) and node.attr == "HttpRequest":
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "HttpRequest" in node.value:
                return True
    return False


def _parameters(function: Function) -> list[ast.arg]:
    args = function.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    return every


def _top_level_functions(tree: ast.Module) -> Iterator[Function]:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


@pytest.mark.parametrize("app", APPS)
def test_actions_never_take_the_request(app: str) -> None:
    """No function or method of an ``actions/`` module has a parameter annotated
    ``HttpRequest``, and no ``actions/`` module imports it: actions get a ``RequestMeta``."""
    found = []
    for path, tree in _modules(app):
        if not _in_actions(app, path):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found += [
                    f"{_where(path, node)} {node.name}({arg.arg})"
                    for arg in _parameters(node)
                    if _names_request(arg.annotation)
                ]
            elif isinstance(node, ast.ImportFrom):
                if any(alias.name == "HttpRequest" for alias in node.names):
                    found.append(f"{_where(path, node)} imports HttpRequest")
    assert found == []


@pytest.mark.parametrize("app", APPS)
def test_every_app_has_an_actions_package(app: str) -> None:
    assert (SRC / app / "actions" / "__init__.py").is_file()
    assert not (SRC / app / "actions.py").exists()


@pytest.mark.parametrize("app", APPS)
def test_state_changes_live_in_actions(app: str) -> None:
    """Every top-level ``def do_*`` is in the app's ``actions/`` package."""
    found = [
        f"{_where(path, function)} {function.name}"
        for path, tree in _modules(app)
        if not _in_actions(app, path)
        for function in _top_level_functions(tree)
        if function.name.startswith("do_")
    ]
    assert found == []


@pytest.mark.parametrize("app", APPS)
def test_access_helpers_live_in_access(app: str) -> None:
    """Every top-level ``def access_*`` is in the app's ``access.py``."""
    home = SRC / app / "access.py"
    found = [
        f"{_where(path, function)} {function.name}"
        for path, tree in _modules(app)
        if path != home
        for function in _top_level_functions(tree)
        if function.name.startswith("access_")
    ]
    assert found == []


@pytest.mark.parametrize("app", APPS)
def test_actions_and_access_helpers_have_docstrings(app: str) -> None:
    """``do_*`` and ``access_*`` docstrings are their specifications (STYLE.md)."""
    found = [
        f"{_where(path, function)} {function.name}"
        for path, tree in _modules(app)
        for function in _top_level_functions(tree)
        if function.name.startswith(("do_", "access_")) and not ast.get_docstring(function)
    ]
    assert found == []


def test_the_checks_see_the_source() -> None:
    """A wrong path would make every check above pass on nothing."""
    actions = SRC / "accounts" / "actions"
    assert any(
        function.name == "do_save_signature"
        for path, tree in _modules("accounts")
        if path.parent == actions
        for function in _top_level_functions(tree)
    )


@pytest.mark.parametrize(
    "source",
    [
        "def f(request: HttpRequest) -> None: ...",
        "def f(*, request: HttpRequest | None = None) -> None: ...",
        "def f(request: 'HttpRequest') -> None: ...",
        "def f(request: http.HttpRequest) -> None: ...",
    ],
)
def test_a_request_parameter_is_seen(source: str) -> None:
    function = ast.parse(source).body[0]
    assert isinstance(function, ast.FunctionDef)
    assert any(_names_request(arg.annotation) for arg in _parameters(function))


def test_a_meta_parameter_is_not_a_request() -> None:
    function = ast.parse("def f(*, meta: RequestMeta) -> None: ...").body[0]
    assert isinstance(function, ast.FunctionDef)
    assert not any(_names_request(arg.annotation) for arg in _parameters(function))
