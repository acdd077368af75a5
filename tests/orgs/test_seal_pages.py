"""印章制作 without waiting (issue 12, defect 9): the generator pages make a fixed number of
queries, and a seal picture is drawn once per specification — the type chooser's defaults, the
live preview asked again for a size typed back and forth, and 完成制作 after the preview. The
speed itself is measured by ``make bench`` (section 7), not here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from qianshu.accounts.models import User
from qianshu.orgs import seals
from qianshu.orgs.models import Organization, Seal
from qianshu.signing.seals import SealSpec
from tests.orgs.conftest import client_for
from tests.orgs.test_seals import make_seal, preview_query, spec_post, url
from tests.support.accounts import make_user

pytestmark = pytest.mark.django_db

# Upper bounds, two above what the pages make today (4 each).
CHOOSER_QUERIES = 6
GENERATOR_QUERIES = 6


@pytest.fixture
def admin(verified_person: Callable[..., User]) -> User:
    return verified_person("alice")


@pytest.fixture
def org(pki: None, admin: User, verified_org: Callable[..., Organization]) -> Organization:
    return verified_org(admin, name="厦门某某科技有限公司")


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[SealSpec]]:
    """The specs the seal renderer is actually asked to draw (it still draws them)."""
    cache.clear()
    calls: list[SealSpec] = []
    real = seals.render_seal

    def render(spec: SealSpec) -> bytes:
        calls.append(spec)
        return real(spec)

    monkeypatch.setattr(seals, "render_seal", render)
    yield calls
    cache.clear()


def test_generator_pages_make_a_fixed_number_of_queries(
    org: Organization, admin: User, django_assert_max_num_queries: Any
) -> None:
    client = client_for(admin)
    with django_assert_max_num_queries(CHOOSER_QUERIES) as few:
        assert client.get(url("seal-new", org)).status_code == 200
    for kind in (Seal.Kind.OFFICIAL, Seal.Kind.FINANCE, Seal.Kind.LEGAL_REP):
        make_seal(org, admin, kind)
    with django_assert_max_num_queries(CHOOSER_QUERIES) as more:
        assert client.get(url("seal-new", org)).status_code == 200
    assert len(more) == len(few)
    with django_assert_max_num_queries(GENERATOR_QUERIES):
        page = client.get(url("seal-new", org), {"kind": "contract"})
    assert page.status_code == 200 and 'data-testid="seal-preview"' in page.content.decode()


def test_a_preview_is_drawn_once_per_specification(
    org: Organization, admin: User, drawn: list[SealSpec]
) -> None:
    client = client_for(admin)
    first = client.get(url("seal-preview", org), preview_query(org, "contract"))
    again = client.get(url("seal-preview", org), preview_query(org, "contract"))
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and len(drawn) == 1
    bigger = client.get(url("seal-preview", org), preview_query(org, "contract", size_mm=48))
    assert bigger.status_code == 200 and bigger.content != first.content and len(drawn) == 2
    back = client.get(url("seal-preview", org), preview_query(org, "contract"))
    assert back.content == first.content and len(drawn) == 2


def test_the_made_seal_is_the_previewed_picture(
    org: Organization, admin: User, drawn: list[SealSpec]
) -> None:
    client = client_for(admin)
    preview = client.get(url("seal-preview", org), preview_query(org, "contract"))
    assert preview.status_code == 200
    made = client.post(url("seal-new", org), spec_post(org, "contract"))
    assert made.status_code == 302
    seal = Seal.objects.get(org=org)
    assert seal.image.read() == preview.content and len(drawn) == 1


def test_the_same_specification_of_another_organisation_gets_its_own_name(
    org: Organization, admin: User, verified_org: Callable[..., Organization], drawn: list
) -> None:
    other_admin = make_user("dave", phone="13900000077")
    other = verified_org(other_admin, name="福州某某贸易有限公司")
    mine = client_for(admin).get(url("seal-preview", org), preview_query(org, "contract"))
    theirs = client_for(other_admin).get(
        url("seal-preview", other), preview_query(other, "contract")
    )
    assert mine.status_code == theirs.status_code == 200
    assert mine.content != theirs.content and len(drawn) == 2
    # and no one outside the organisation reaches its preview at all
    outsider = client_for(other_admin).get(url("seal-preview", org), preview_query(org, "contract"))
    assert outsider.status_code == 404


def test_a_refused_specification_is_not_kept(
    org: Organization, admin: User, drawn: list[SealSpec]
) -> None:
    client: Client = client_for(admin)
    query = {**preview_query(org, "contract"), "seal_text": "\U0001f600合同"}
    for _ in range(2):
        refused = client.get(url("seal-preview", org), query)
        assert refused.status_code == 400 and "印章字体中没有字符" in refused.json()["message"]
    assert len(drawn) == 2  # asked again, refused again: nothing was kept for it
