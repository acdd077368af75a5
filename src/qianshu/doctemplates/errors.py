"""Refusals of template actions (``str(exc)`` is a message for the user)."""

from __future__ import annotations

from qianshu.core.errors import UserError


class TemplateError(UserError):
    code = "template_refused"
