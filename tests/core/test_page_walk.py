"""Every page a browser can GET answers without a server error, for the personas who reach it.

A small world — the employment test world (an operator, two schools with their administrators
and roster, two approved employers with seals, three verified students), an invitation the
student accepted, an envelope sent to a student and an employer and a draft — and a walk
through every pattern of the URL resolver (``tests/support/pagewalk.py``, which ``make bench``
section 7 also walks on the demo data): path parameters filled from the database, each user
personally and for each of their organisations, and nobody logged in. A new page that breaks
on some data, or a view that cannot render for some persona, fails here.
"""

from __future__ import annotations

import pytest

from qianshu.core.meta import TASK
from qianshu.envelopes.actions import compose as compose_actions
from tests.employment.test_agreements import accept, invite
from tests.employment.world import make_world
from tests.envelopes.helpers import Builder
from tests.support import pagewalk

pytestmark = pytest.mark.django_db


def test_every_page_answers_without_a_server_error() -> None:
    world = make_world()
    accept(world, invite(world, "黄河"), "黄河")
    build = Builder()
    sent = build.draft(world.hr1, [("sign", 1, world.users["长江"]), ("seal", 2, world.employer)])
    compose_actions.do_send_envelope(sent, actor=world.hr1, meta=TASK)
    build.draft(world.hr1, [("sign", 1, world.users["汉水"])], title="草稿")

    people = pagewalk.personas()
    walked: list[str] = []
    errors: list[str] = []
    unreached: list[str] = []
    for name, route, params in pagewalk.patterns():
        if pagewalk.skip_reason(name, params):
            continue
        outcome = pagewalk.find(name, params, people)
        if outcome is None:
            continue  # nothing of that kind in this world (a webhook endpoint, a template …)
        if 500 in outcome.statuses:
            errors.append(f"{name} {outcome.url} as {outcome.persona}")
        elif outcome.walked:
            walked.append(name)
        elif outcome.status != 405 and not params:
            unreached.append(f"{route} {outcome.statuses}")

    assert not errors, errors
    # A page without parameters is reached by somebody (or is POST-only).
    assert not unreached, unreached
    # The walk did reach the pages of each area (not only login redirects).
    for area in (
        "envelopes:",
        "orgs:",
        "employment:school-",
        "employment:employer-",
        "employment:student-",
        "backoffice:",
        "accounts:",
        "identity:",
    ):
        assert any(name.startswith(area) for name in walked), area
    assert len(walked) >= 100, len(walked)
