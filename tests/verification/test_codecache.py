"""The start-up cache of compiled dataclass methods (qianshu.verification.codecache): a second
start compiles nothing, classes behave exactly as without it, the verifier reports the same,
and a cache file that is not the user's own, or damaged, is not used."""

from __future__ import annotations

import ast
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qianshu.signing.ephemeral import EphemeralPlatform
from qianshu.verification import codecache
from tests.signing import helpers

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _make_class() -> type:
    @dataclasses.dataclass(frozen=True)
    class Point:
        x: int
        y: int = 2
        tags: list[str] = dataclasses.field(default_factory=list, hash=False)

    return Point


def _behaviour(cls: type) -> tuple[object, ...]:
    a, b = cls(1), cls(1, 2)
    try:
        a.x = 5  # type: ignore[attr-defined]
        frozen = False
    except dataclasses.FrozenInstanceError:
        frozen = True
    return (
        repr(a),
        a == b,
        hash(a) == hash(b),
        a.tags is not b.tags,  # type: ignore[attr-defined]
        frozen,
        cls.__init__.__code__.co_filename,
        cls.__init__.__code__.co_varnames,
        cls.__init__.__annotations__,  # types, not strings: no future flag of ours leaks in
    )


def test_a_second_start_compiles_nothing_and_classes_behave_the_same(cache_home: Path) -> None:
    plain = _behaviour(_make_class())
    with codecache.compiled_dataclass_methods() as first:
        made_first = _make_class()
    assert first is not None and first.compiled >= 3  # __init__, __repr__, __eq__, …
    assert "exec" not in vars(dataclasses)  # patched within the block only
    with codecache.compiled_dataclass_methods() as second:
        made_second = _make_class()
    assert second is not None and second.compiled == 0
    assert set(second.used) == set(first.used)
    assert _behaviour(made_first) == _behaviour(made_second) == plain


def _probe(args: list[str], cache: Path) -> tuple[dict[str, object], str]:
    probe = (
        "import sys\n"
        "from qianshu.verification import cli, codecache\n"
        "with codecache.compiled_dataclass_methods() as methods:\n"
        "    cli.load_verifier()\n"
        f"code = cli.main({args!r})\n"
        "print(repr({'code': code, 'compiled': methods.compiled, 'used': len(methods.used)}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "XDG_CACHE_HOME": str(cache), "QIANSHU_DATA_DIR": str(cache)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    *report, last = result.stdout.strip().splitlines()
    return ast.literal_eval(last), "\n".join(report)


def test_the_verifier_starts_from_the_cache_and_reports_the_same(tmp_path: Path) -> None:
    platform = EphemeralPlatform()
    doc = helpers.signed_document(platform)
    assert doc.finished is not None
    pdf, roots = tmp_path / "signed.pdf", tmp_path / "roots.pem"
    pdf.write_bytes(doc.finished)
    from qianshu.signing import pki

    roots.write_bytes(pki.certificate_pem(platform.pki.root.certificate))
    args = [str(pdf), "--json", "--trust", str(roots)]
    cold, cold_report = _probe(args, tmp_path / "cache")
    warm, warm_report = _probe(args, tmp_path / "cache")
    assert cold["code"] == warm["code"] == 0
    assert isinstance(cold["compiled"], int) and cold["compiled"] > 300  # pyHanko's and ours
    assert warm["compiled"] == 0 and warm["used"] == cold["used"]
    assert warm_report == cold_report


def _written_cache(cache_home: Path) -> Path:
    with codecache.compiled_dataclass_methods():
        _make_class()
    path = codecache.cache_file()
    assert path is not None and Path(path).is_file()
    assert Path(path).parent == cache_home / "qianshu"
    assert os.stat(path).st_mode & 0o077 == 0
    return Path(path)


def _compiled_again(cache_home: Path) -> int:
    with codecache.compiled_dataclass_methods() as methods:
        _make_class()
    assert methods is not None
    return methods.compiled


def test_a_cache_file_others_can_write_is_not_used(cache_home: Path) -> None:
    path = _written_cache(cache_home)
    assert _compiled_again(cache_home) == 0
    path.chmod(0o620)
    assert _compiled_again(cache_home) > 0


@pytest.mark.skipif(os.getuid() != 0, reason="needs to hand a folder to another user")
def test_nothing_is_written_into_someone_elses_folder(cache_home: Path) -> None:
    folder = cache_home / "qianshu"
    folder.mkdir(parents=True)
    os.chown(folder, 65534, 65534)
    assert _compiled_again(cache_home) > 0
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: b"x" * len(codecache._FORMAT) + data[len(codecache._FORMAT) :],  # not ours
        lambda data: data[:25] + b"\x00" * 40,  # our header, then garbage
    ],
)
def test_a_damaged_cache_file_is_not_used(cache_home: Path, damage: object) -> None:
    path = _written_cache(cache_home)
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    assert _compiled_again(cache_home) > 0
    assert _compiled_again(cache_home) == 0  # written again


def test_no_cache_without_a_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("HOME", raising=False)
    assert codecache.cache_file() is None
    with codecache.compiled_dataclass_methods() as methods:
        assert methods is None
        assert "exec" not in vars(dataclasses)


_SIGNATURES = (
    "import dataclasses, re, sys\n"
    "from qianshu.verification import cli, codecache\n"
    "if sys.argv[1] == 'cached':\n"
    "    with codecache.compiled_dataclass_methods():\n"
    "        cli.load_verifier()\n"
    "else:\n"
    "    cli.load_verifier()\n"
    "out = []\n"
    "def shown(value):  # object addresses differ from process to process\n"
    "    return re.sub(r' at 0x[0-9a-f]+', '', repr(value))\n"
    "for module in list(sys.modules.values()):\n"
    "    for cls in list(vars(module).values()):\n"
    "        if isinstance(cls, type) and dataclasses.is_dataclass(cls):\n"
    "            for name, fn in sorted(vars(cls).items()):\n"
    "                code = getattr(fn, '__code__', None)\n"
    "                if code is not None and code.co_filename == '<string>':\n"
    "                    out.append((cls.__module__, cls.__qualname__, name, code.co_code,\n"
    "                                code.co_flags, shown(fn.__annotations__),\n"
    "                                shown(fn.__defaults__), shown(fn.__kwdefaults__)))\n"
    "print(repr(sorted(set(out))))\n"
)


def test_every_dataclass_of_the_verifier_is_built_as_without_the_cache(tmp_path: Path) -> None:
    def methods(mode: str) -> list[tuple[object, ...]]:
        result = subprocess.run(
            [sys.executable, "-c", _SIGNATURES, mode],
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(SRC), "XDG_CACHE_HOME": str(tmp_path)},
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        found: list[tuple[object, ...]] = ast.literal_eval(result.stdout.strip().splitlines()[-1])
        return found

    plain = methods("plain")
    assert len(plain) > 300
    methods("cached")  # writes the cache
    assert methods("cached") == plain  # built from it
