"""预览协议书: the agreement PDF of a 邀请函 before it is sent, rendered from an Agreement that
is never saved — a preview creates no invitation, envelope or event."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.employment import papers
from qianshu.employment.actions.agreements import Letter, clean_letter
from qianshu.employment.actions.employers import require_inviting_employer
from qianshu.employment.models import Agreement, RosterEntry
from qianshu.orgs.models import Organization


def preview_pdf(org: Organization, student: RosterEntry, letter: Letter, *, actor: User) -> bytes:
    """The PDF ``student`` would receive from ``org`` with ``letter`` (no seal yet)."""
    profile = require_inviting_employer(org, actor)
    letter = clean_letter(letter)
    now = timezone.now()
    agreement = Agreement(
        number=_("预览"),
        mode=Agreement.Mode.ONLINE,
        status=Agreement.Status.INVITED,
        student=student,
        employer=org,
        terms=dict(letter.terms),
        archive=dict(letter.archive),
        hukou=dict(letter.hukou),
        employer_info={"name": org.name, "credit_code": org.credit_code, **profile.basic},
        deadline=now + dt.timedelta(days=letter.feedback_days),
        created_by=actor,
        created_at=now,
    )
    return papers.agreement_pdf(agreement).pdf
