"""Fixtures of the envelope tests.

- ``pki`` (the platform PKI), a per-test blob directory, the sandbox providers — as in the
  organisation tests (``blob_dir`` is autouse here too);
- ``people``: the personas alice (initiator), bob and charlie as *verified* persons with a
  signing PIN (``PIN``) and a default handwritten signature;
- ``seal_org(admin, name, keeper=None)``: a verified organisation with a 合同专用章 granted to
  ``keeper`` (default: the admin);
- ``build`` (:class:`tests.envelopes.helpers.Builder`): drafts with documents, recipients
  and fields in a line or two.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qianshu.accounts.models import User
from qianshu.orgs.models import Organization
from qianshu.pki.actions import do_init_pki
from tests.envelopes.helpers import Builder
from tests.orgs.conftest import blob_dir as _org_blob_dir
from tests.support.personas import PIN, make_seal_org, make_signer

__all__ = ["PIN"]

blob_dir = _org_blob_dir  # autouse: blobs in a directory of each test


@pytest.fixture
def pki(db: Any) -> None:
    do_init_pki(name="测试平台")


@pytest.fixture
def people(pki: None) -> dict[str, User]:
    return {
        "alice": make_signer("alice"),
        "bob": make_signer("bob"),
        "charlie": make_signer("charlie"),
    }


@pytest.fixture
def seal_org(pki: None) -> Callable[..., Organization]:
    return make_seal_org


@pytest.fixture
def build(pki: None, tmp_path: Path) -> Builder:
    return Builder()
