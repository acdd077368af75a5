"""Stored codes in words: one rule for every event table (envelopes, organisations, security).

A code no table knows (written by older code, or hand-made) is never shown as it is stored."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

OTHER_EVENT = _("其他操作")


def choice_label(choices: type[models.TextChoices], value: object) -> str:
    """The label of a stored code; empty for a code the table does not know."""
    if not isinstance(value, str) or value not in choices.values:
        return ""
    return str(choices(value).label)


def event_kind_label(choices: type[models.TextChoices], value: object) -> str:
    """An event's kind in words: its label, or 其他操作 for a code the table does not know."""
    return choice_label(choices, value) or str(OTHER_EVENT)
