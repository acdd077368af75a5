"""A recipient's turn: what a signer submits (提交签署, 批量签署) and the checks before it.

The protocol of signing, approving and rejecting is stated with its code in
:mod:`qianshu.envelopes.actions.turns`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.envelopes import audit
from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.models import Document, Envelope, Field, Recipient
from qianshu.signing import stamps

Kind = Field.Kind
Role = Recipient.Role


@dataclass(frozen=True)
class StagedField:
    """One placement the signer staged in the browser: a declared field (``field_id``), or a
    free placement (指定位置签署) on a document that was not certified."""

    field_id: int | None = None
    document_id: int | None = None
    kind: str = ""
    page: int = 0
    rect: stamps.Rect | None = None
    pages: tuple[int, ...] = ()
    value: str = ""


@dataclass(frozen=True)
class SignRequest:
    key: str  # idempotency key of this submission
    seen: Mapping[int, str]  # document id -> SHA-256 of the revision the signer saw
    fields: Sequence[StagedField] = ()
    signature_png: bytes | None = None  # drawn for this signing only (重新采集)
    signature_id: int | None = None  # a saved signature; None: the default one
    seal_uuid: str | None = None


@dataclass(frozen=True)
class SignOutcome:
    recipient: Recipient
    documents: list[Document] = field(default_factory=list)
    repeated: bool = False  # the same idempotency key was submitted before


# --- 批量签署 ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostedTask:
    """One task as the batch form sent it back."""

    envelope_uuid: str
    recipient_id: int
    key: str
    seen: Mapping[int, str]


@dataclass(frozen=True)
class BatchItem:
    """One task to sign: the recipient (with its envelope loaded), the key and hashes of the
    batch form, the seal chosen for its organisation, and its fields."""

    recipient: Recipient
    key: str
    seen: Mapping[int, str]
    seal_uuid: str | None = None
    fields: tuple[StagedField, ...] = ()


# --- checks -----------------------------------------------------------------------------------


def _same_name(a: str, b: str) -> bool:
    return "".join(a.split()) == "".join(b.split())


def check_managed(envelope: Envelope, managed: bool) -> None:
    """A managed envelope (an employment agreement …) moves only through the app that drives
    it: its rules (one accepted agreement per student, the school's 鉴证) are checked there.
    Signing, rejecting, returning or recalling it from the envelope pages, the batch or the
    API is refused."""
    if envelope.kind == Envelope.Kind.MANAGED and not managed:
        raise EnvelopeError(_("该文件需在对应的业务页面办理（如就业签约），不能在此签署或处理。"))


def check_signer(recipient: Recipient, actor: User) -> None:
    """Real-name checks before a person signs (also used by the signing page to guide them)."""
    if recipient.role == Role.APPROVE:
        return
    identity = audit.person_identity(actor)
    if identity is None:
        raise EnvelopeError(_("签署前请先完成个人实名认证。"))
    if recipient.role == Role.SIGN and not _same_name(identity.name, recipient.name):
        raise EnvelopeError(
            _("本文件指定由“%(name)s”签署，与您的实名信息不一致，不能代为签署。")
            % {"name": recipient.name}
        )


def signing_date_text() -> str:
    return timezone.localdate().strftime("%Y年%m月%d日")
