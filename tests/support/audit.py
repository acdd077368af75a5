"""Running ``qianshu check-audit`` in tests."""

from __future__ import annotations

import io

from django.core.management import call_command
from django.core.management.base import CommandError


def run_check_audit(*args: str) -> tuple[int, str]:
    """check-audit's exit status and output."""
    out = io.StringIO()
    try:
        call_command("check_audit", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def audit_findings(*args: str) -> str:
    """ "" when check-audit finds everything intact (exit 0), else its findings (exit 1)."""
    code, out = run_check_audit(*args)
    assert code in (0, 1), out
    return "" if code == 0 else out
