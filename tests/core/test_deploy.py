"""deploy/ stays in step with the code: the compose file and the systemd units name only
variables our settings read, commands that exist, secrets they declare, services that exist,
gunicorn settings gunicorn knows. (The images cannot be pulled on the build machine, so the
compose file is checked here rather than run; deploy/README.md.)"""

from __future__ import annotations

import re
import runpy
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import get_commands
from gunicorn.config import Config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SETTINGS = ROOT / "src" / "qianshu" / "settings.py"
# Variables of the images we do not build (PostgreSQL, MinIO): theirs, not ours.
FOREIGN = {"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD_FILE"}
FOREIGN_PREFIXES = ("MINIO_",)


def _read_by_settings() -> set[str]:
    """Every variable settings.py reads; a secret also as ``NAME_FILE``."""
    source = SETTINGS.read_text(encoding="utf-8")
    names = set(re.findall(r'env_(?:str|bool|int|list)\(\s*"([A-Z0-9_]+)"', source))
    secrets = set(re.findall(r'(?:env_secret|_required_secret)\(\s*"([A-Z0-9_]+)"', source))
    return names | secrets | {f"{name}_FILE" for name in secrets}


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8")))


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _ours(name: str) -> bool:
    return name not in FOREIGN and not name.startswith(FOREIGN_PREFIXES)


def _qianshu_commands(argv: list[str]) -> list[str]:
    """The management commands an argv runs (``qianshu X``, also inside ``sh -c``)."""
    text = " ".join(argv)
    return [m.replace("-", "_") for m in re.findall(r"\bqianshu\s+([a-z][a-z_-]*)", text)]


def test_compose_names_only_variables_our_settings_read() -> None:
    read = _read_by_settings()
    unknown = {
        (name, var)
        for name, service in _compose()["services"].items()
        for var in _environment(service)
        if _ours(var) and var not in read
    }
    assert unknown == set()


def test_compose_services_run_commands_that_exist() -> None:
    commands = set(get_commands())
    services = _compose()["services"]
    seen = set()
    for name, service in services.items():
        argv = service.get("command") or []
        argv = shlex.split(argv) if isinstance(argv, str) else [str(a) for a in argv]
        health = [str(a) for a in (service.get("healthcheck") or {}).get("test", [])]
        for command in _qianshu_commands(argv) + _qianshu_commands(health):
            assert command in commands, (name, command)
            seen.add(command)
        if argv[:1] == ["gunicorn"]:
            assert argv[1] == "qianshu.wsgi"
            assert "/app/deploy/gunicorn.conf.py" in argv
        for needed in (service.get("depends_on") or {}).keys():
            assert needed in services, (name, needed)
    # The roles of the issue: workers, timers, sweeps, migrations and the PKI.
    assert {"db_worker", "envelope_timers", "deliver_outbox", "deliver_webhooks", "migrate"} <= seen
    assert {"init_pki", "check"} <= seen


def test_compose_secrets_are_declared_and_mounted() -> None:
    compose = _compose()
    declared = set(compose["secrets"])
    for name, service in compose["services"].items():
        mounted = set(service.get("secrets") or [])
        assert mounted <= declared, name
        for var, value in _environment(service).items():
            if var.endswith("_FILE"):
                assert value.startswith("/run/secrets/"), (name, var)
                assert value.removeprefix("/run/secrets/") in mounted, (name, var)
        # A secret is never given in plain text.
        for var, value in _environment(service).items():
            if re.search(r"(SECRET|PASSWORD|MASTER_KEY)$", var):
                pytest.fail(f"{name}: {var} holds a secret in plain text ({value[:3]}…)")
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/")


def test_every_long_running_service_has_a_healthcheck() -> None:
    services = _compose()["services"]
    one_shot = {"bucket", "migrate"}
    for name, service in services.items():
        if name not in one_shot:
            assert service.get("healthcheck", {}).get("test"), name
    assert services["web"]["deploy"]["replicas"] >= 2
    assert services["worker"]["deploy"]["replicas"] >= 2


def test_the_proxy_configuration_points_at_the_web_service() -> None:
    compose = _compose()
    nginx = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    upstreams = re.findall(r"server\s+([a-z0-9_-]+):(\d+)", nginx)
    assert upstreams
    bind = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))["bind"]
    for host, port in upstreams:
        assert host in compose["services"]
        assert bind.endswith(f":{port}")
    volumes = compose["services"]["proxy"]["volumes"]
    assert any(v.startswith("./nginx.conf:") for v in volumes)


def test_gunicorn_settings_are_gunicorn_settings() -> None:
    known = set(Config().settings)
    values = {
        k: v
        for k, v in runpy.run_path(str(DEPLOY / "gunicorn.conf.py")).items()
        if not k.startswith("_") and not callable(v) and not hasattr(v, "__file__")
    }
    assert values and set(values) <= known, set(values) - known


def _unit_lines(path: Path, key: str) -> list[str]:
    prefix = f"{key}="
    return [
        line.removeprefix(prefix)
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith(prefix)
    ]


def test_systemd_units_and_their_environment_file() -> None:
    units = DEPLOY / "systemd"
    read = _read_by_settings()
    example = (units / "qianshu.env.example").read_text(encoding="utf-8")
    names = re.findall(r"^([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE)
    assert names and set(names) <= read, set(names) - read
    commands = set(get_commands())
    seen = set()
    for unit in sorted(units.glob("*.service")):
        assert _unit_lines(unit, "EnvironmentFile") == ["/etc/qianshu/qianshu.env"], unit.name
        for exec_start in _unit_lines(unit, "ExecStart"):
            for command in _qianshu_commands(exec_start.split()):
                assert command in commands, (unit.name, command)
                seen.add(command)
            if "gunicorn" in exec_start:
                assert "deploy/gunicorn.conf.py" in exec_start
    assert {"db_worker", "envelope_timers", "deliver_outbox", "deliver_webhooks"} <= seen
    assert {p.name for p in units.glob("*@.service")} == {
        "qianshu-web@.service",
        "qianshu-worker@.service",
    }
    timer = units / "qianshu-sweeps.timer"
    assert timer.exists() and (units / "qianshu-sweeps.service").exists()


def test_every_variable_of_the_deploy_files_is_documented() -> None:
    """README, "Configuration", explains each variable the deploy files set."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    texts = [
        (DEPLOY / "compose.yaml").read_text(encoding="utf-8"),
        (DEPLOY / "systemd" / "qianshu.env.example").read_text(encoding="utf-8"),
    ]
    names = {
        name.removesuffix("_FILE")
        for text in texts
        for name in re.findall(r"\b(QIANSHU_[A-Z0-9_]+|DATABASE_URL(?:_FILE)?)\b", text)
    }
    assert names
    assert {name for name in names if f"`{name}`" not in readme} == set()
