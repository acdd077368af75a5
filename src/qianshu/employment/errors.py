"""Refusals of the employment-agreement actions (``str(exc)`` is a message for the user)."""

from __future__ import annotations

from qianshu.core.errors import UserError


class EmploymentError(UserError):
    code = "employment_refused"


class WrongState(EmploymentError):
    """The agreement or termination is no longer in the state the action needs (somebody else
    acted first, the deadline passed): the page is out of date."""

    code = "employment_state"
    status = 409
