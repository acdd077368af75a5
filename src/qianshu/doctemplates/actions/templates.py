"""Templates: save a draft as a template or as a template's new version, make a draft from a
template, share an organisation's template, archive and restore.

A version is a snapshot (:mod:`qianshu.doctemplates.snapshots`): its documents are the draft's
blobs (immutable, content-addressed), its roles and fields JSON. Using a template runs the
compose actions of a new draft (:class:`qianshu.envelopes.actions.new_drafts.NewDraft`) —
create the draft, add each document (checked with the upload's rules when the draft it came
from was composed; its data fields are written in by the platform), set the recipients and
the fields (checked as the field editor's are) — in one transaction, so a template that no
longer fits (a field off a page, a role left empty) leaves nothing behind. 批量发起 makes and
sends each row's draft in its own transaction with :func:`make_draft`, the version's
documents read once for the batch (:func:`version_documents`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.core.meta import RequestMeta
from qianshu.doctemplates.access import can_manage
from qianshu.doctemplates.datafields import clean_data, clean_definition, fill_document
from qianshu.doctemplates.errors import TemplateError
from qianshu.doctemplates.models import (
    Batch,
    Template,
    TemplateDocument,
    TemplateUse,
    TemplateVersion,
)
from qianshu.doctemplates.snapshots import (
    MAX_LABEL,
    ROLE_VALUES,
    Party,
    RoleChoice,
    document_positions,
    fields_snapshot,
    recipients_of,
    roles_snapshot,
    text_fields,
)
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.actions import new_drafts
from qianshu.envelopes.actions.new_drafts import NewDraft
from qianshu.envelopes.compose import RecipientInput, clean_recipient
from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.models import Envelope
from qianshu.envelopes.placement import FieldInput
from qianshu.orgs.models import Membership, Organization
from qianshu.signing import documents
from qianshu.signing.errors import PdfError
from qianshu.signing.stamps import Rect

MAX_NAME = 100


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise TemplateError(_("请输入模板名称。"), field="name")
    if len(name) > MAX_NAME:
        raise TemplateError(_("模板名称最多 %(n)d 个字。") % {"n": MAX_NAME}, field="name")
    return name


def _clean_choices(choices: list[RoleChoice], count: int) -> list[RoleChoice]:
    if len(choices) != count:
        raise TemplateError(_("签署方已变化，请刷新页面后重试。"))
    cleaned = []
    for index, choice in enumerate(choices):
        label = " ".join((choice.label or "").split())
        if not label:
            raise TemplateError(_("请为第 %(n)d 个签署方填写角色名称。") % {"n": index + 1})
        if len(label) > MAX_LABEL:
            raise TemplateError(_("角色名称最多 %(n)d 个字。") % {"n": MAX_LABEL})
        cleaned.append(RoleChoice(label, choice.fixed))
    labels = [c.label for c in cleaned]
    duplicate = next((label for label in labels if labels.count(label) > 1), None)
    if duplicate:
        raise TemplateError(
            _("角色名称“%(label)s”重复了，每个角色的名称须不同。") % {"label": duplicate}
        )
    return cleaned


def do_save_template(
    envelope: Envelope,
    *,
    name: str = "",
    choices: list[RoleChoice],
    template: Template | None = None,
    data_fields: Mapping[int, Mapping[str, Any]] | None = None,
    actor: User,
    meta: RequestMeta,
) -> TemplateVersion:
    """保存为模板: the draft ``envelope`` as a new template (``name``), or as a new version of
    ``template`` (which the actor manages). An organisation's draft makes an organisation's
    template, a personal draft a personal one; a version never crosses that line.
    ``data_fields`` turns text fields of the draft (by id) into data fields the sender fills
    (their definitions: :func:`qianshu.doctemplates.datafields.clean_definition`); the other
    text fields stay the signer's to fill. Raises :class:`TemplateError`."""
    if not envelope.is_editable() or envelope.initiator_id != actor.pk:
        raise TemplateError(_("只能将自己的草稿保存为模板。"))
    org_id = envelope.initiator_org_id
    if org_id is not None and not Membership.objects.filter(org_id=org_id, user=actor).exists():
        # Someone who left must not plant a template in the organisation's list.
        raise TemplateError(_("您已不是该组织的成员，不能使用该组织的模板。"))
    recipients = recipients_of(envelope)
    documents = list(envelope.documents.select_related("current").order_by("position", "id"))
    if not documents:
        raise TemplateError(_("请先上传签署文件。"))
    if not recipients:
        raise TemplateError(_("请先添加签署方。"))
    cleaned = _clean_choices(choices, len(recipients))
    definitions = _data_definitions(envelope, data_fields or {})
    with transaction.atomic():
        if template is None:
            template = Template.objects.create(
                name=_clean_name(name), owner=actor, org=envelope.initiator_org
            )
        else:
            template = Template.objects.select_for_update().get(pk=template.pk)
            if not can_manage(actor, template):
                raise TemplateError(_("您不能修改该模板。"))
            if template.org_id != envelope.initiator_org_id:
                raise TemplateError(
                    _("组织模板只能由以该组织名义编辑的草稿更新，个人模板只能由个人草稿更新。")
                )
            if name:
                template.name = _clean_name(name)
            template.updated_at = timezone.now()
            template.save(update_fields=["name", "updated_at"])
        number = (template.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        deadline_days = None
        if envelope.deadline is not None:
            deadline_days = max(1, (envelope.deadline - timezone.now()).days + 1)
        version = TemplateVersion.objects.create(
            template=template,
            number=number,
            title=envelope.title,
            message=envelope.message,
            scene=envelope.scene,
            deadline_days=deadline_days,
            auto_remind=envelope.auto_remind,
            allow_sms_signing=envelope.allow_sms_signing,
            roles=roles_snapshot(recipients, cleaned),
            fields=fields_snapshot(envelope, recipients, exclude=definitions),
            data_fields=list(definitions.values()),
            created_by=actor,
        )
        for position, document in enumerate(documents):
            TemplateDocument.objects.create(
                version=version,
                position=position,
                name=document.name,
                blob=document.current,
                pages=document.page_count,
            )
    return version


def _data_definitions(
    envelope: Envelope, chosen: Mapping[int, Mapping[str, Any]]
) -> dict[int, dict[str, Any]]:
    """The data fields chosen among the draft's text fields, by field id; names unique."""
    fields = {f.pk: f for f in text_fields(envelope)}
    positions = document_positions(envelope)
    out: dict[int, dict[str, Any]] = {}
    for pk, raw in chosen.items():
        f = fields.get(pk)
        if f is None:
            raise TemplateError(_("签署位置已变化，请刷新页面后重试。"))
        out[pk] = clean_definition(
            raw, (positions[f.document_id], f.page, Rect(f.x1, f.y1, f.x2, f.y2))
        )
    names = [d["name"] for d in out.values()]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise TemplateError(_("字段名称“%(name)s”重复了。") % {"name": duplicate})
    return out


def _recipient(role: Mapping[str, object], party: Party | None) -> RecipientInput:
    values = {name: str(role.get(name) or "") for name in ROLE_VALUES}
    if not role.get("fixed"):
        if party is None:
            raise TemplateError(
                _("请填写“%(label)s”的签署方信息。") % {"label": role["label"]}, field="roles"
            )
        values = {name: getattr(party, name) for name in ROLE_VALUES}
    return RecipientInput(
        role=str(role["role"]),
        routing_order=int(str(role["order"])),
        name=values["name"],
        phone=values["phone"],
        email=values["email"],
        contact_name=values["contact_name"],
        org_credit_code=values["org_credit_code"],
        required_seal_kind=str(role.get("required_seal_kind") or ""),
    )


@dataclass(frozen=True)
class SourceDocument:
    """A version's document as a draft made from it starts: its bytes and page boxes (the
    data fields written in change neither the pages nor their boxes)."""

    position: int
    name: str
    data: bytes
    boxes: tuple[Rect, ...]


def version_documents(version: TemplateVersion) -> list[SourceDocument]:
    """The version's documents in order, read once (a batch reads them once for all its rows;
    ``version.documents`` may be prefetched with their blobs)."""
    out = []
    for d in sorted(version.documents.all(), key=lambda d: d.position):
        data = d.blob.read()
        try:
            boxes = documents.page_boxes(data)
        except PdfError as exc:
            raise EnvelopeError(
                _("“%(name)s”已损坏，无法打开，请检查后重新上传。") % {"name": d.name}
            ) from exc
        out.append(SourceDocument(d.position, d.name, data, tuple(boxes)))
    return out


def usable_template(version: TemplateVersion, actor: User) -> Template:
    """The version's template (with its organisation) if ``actor`` may make drafts from it
    now: active, and for an organisation's template a current member (one query)."""
    member = Membership.objects.filter(org=OuterRef("org"), user=actor)
    template = (
        Template.objects.select_related("org")
        .annotate(actor_is_member=Exists(member))
        .get(pk=version.template_id)
    )
    if not template.is_active:
        raise TemplateError(_("该模板已归档，不能再使用。"))
    if template.org is not None and not template.actor_is_member:
        raise TemplateError(_("您已不是该组织的成员，不能使用该组织的模板。"))
    return template


def check_still_active(version: TemplateVersion) -> None:
    """Refuse with :class:`TemplateError` once the version's template is archived (one cheap
    query: a batch checks it for each row after :func:`usable_template` for its first)."""
    if not Template.objects.filter(pk=version.template_id, status=Template.Status.ACTIVE).exists():
        raise TemplateError(_("该模板已归档，不能再使用。"))


def do_use_template(
    version: TemplateVersion,
    parties: Mapping[str, Party],
    *,
    data: Mapping[str, object] | None = None,
    title: str = "",
    batch: Batch | None = None,
    actor: User,
    meta: RequestMeta,
) -> Envelope:
    """A draft made from ``version`` with ``parties`` (by role key) in its open roles and the
    values of its data fields (``data``, by field name) written into its documents as text —
    ready for 确认发起 — and the version remembered (with the ``batch`` it was sent in). The
    caller checked that ``actor`` may use the template. Raises :class:`TemplateError`
    (``DataError`` naming a data field) or the compose actions' ``EnvelopeError``; nothing is
    kept then. The version's documents may be prefetched
    (``prefetch_related("documents__blob")``)."""
    template = usable_template(version, actor)
    with transaction.atomic():
        draft = make_draft(
            version,
            parties,
            data=data,
            title=title,
            batch=batch,
            org=template.org,
            actor=actor,
            meta=meta,
        )
    return draft.envelope


def make_draft(
    version: TemplateVersion,
    parties: Mapping[str, Party],
    *,
    data: Mapping[str, object] | None = None,
    title: str = "",
    batch: Batch | None = None,
    org: Organization | None,
    sources: Sequence[SourceDocument] | None = None,
    fixed: dict[tuple[int, RecipientInput], dict[str, Any]] | None = None,
    actor: User,
    meta: RequestMeta,
) -> NewDraft:
    """:func:`do_use_template`'s draft, made in the caller's transaction (whose rollback leaves
    nothing) by the compose actions of a new draft, for ``org`` (the template's, checked with
    :func:`usable_template`). ``sources``: :func:`version_documents`, read by the caller once
    for many drafts; ``fixed``: the cleaned parties of the version's fixed roles, kept by the
    caller between the drafts of one batch run (resolved once: a fixed seal party's
    organisation is looked up once)."""
    roles = list(version.roles)
    unknown = set(parties) - {str(r["key"]) for r in roles}
    if unknown:
        raise TemplateError(
            _("模板中没有角色：%(names)s") % {"names": "、".join(sorted(unknown))}, field="roles"
        )
    values = clean_data(version.data_fields, data or {})
    deadline = None
    if version.deadline_days:
        deadline = timezone.now() + dt.timedelta(days=version.deadline_days)
    if sources is None:
        sources = version_documents(version)
    envelope = compose_actions.do_create_draft(
        title=title or version.title,
        actor=actor,
        scene=version.scene,
        message=version.message,
        deadline=deadline,
        auto_remind=version.auto_remind,
        allow_sms_signing=version.allow_sms_signing,
        org=org,
        meta=meta,
    )
    draft = NewDraft(envelope, [], [], [], {})
    for source in sources:
        new_drafts.add_new_document(
            draft,
            fill_document(source.data, source.position, version.data_fields, values),
            source.name,
            source.boxes,
            actor=actor,
            meta=meta,
        )
    cleaned = [
        _cleaned(index, role, _recipient(role, parties.get(str(role["key"]))), fixed)
        for index, role in enumerate(roles)
    ]
    recipients = new_drafts.set_new_recipients(draft, cleaned)
    by_key = {str(r["key"]): rec for r, rec in zip(roles, recipients, strict=True)}
    docs = draft.documents
    fields = [
        FieldInput(
            recipient_id=by_key[str(f["role"])].pk,
            document_id=docs[int(f["document"])].pk,
            kind=str(f["kind"]),
            page=int(f["page"]),
            rect=Rect(*(float(v) for v in f["rect"])),
            pages=tuple(int(p) for p in f.get("pages") or ()),
            label=str(f.get("label") or ""),
            value=str(f.get("value") or ""),
        )
        for f in version.fields
    ]
    if fields:
        new_drafts.set_new_fields(draft, fields)
    TemplateUse.objects.create(envelope=envelope, version=version, batch=batch)
    return draft


def _cleaned(
    index: int,
    role: Mapping[str, object],
    item: RecipientInput,
    fixed: dict[tuple[int, RecipientInput], dict[str, Any]] | None,
) -> dict[str, Any]:
    if fixed is None or not role.get("fixed"):
        return clean_recipient(item, index)
    key = (index, item)
    if key not in fixed:
        fixed[key] = clean_recipient(item, index)
    return fixed[key]


def do_share_template(template: Template, members: Iterable[User], *, actor: User) -> None:
    """Share an organisation's template with chosen members (replacing the earlier choice)."""
    if template.org_id is None:
        raise TemplateError(_("个人模板不能共享；请以组织名义保存模板后再共享。"))
    if not can_manage(actor, template):
        raise TemplateError(_("您不能修改该模板。"))
    chosen = list(members)
    member_ids = set(
        Membership.objects.filter(org_id=template.org_id).values_list("user_id", flat=True)
    )
    if any(user.pk not in member_ids for user in chosen):
        raise TemplateError(_("只能共享给本组织的成员。"))
    with transaction.atomic():
        template.shared_with.set(chosen)
        Template.objects.filter(pk=template.pk).update(updated_at=timezone.now())


def do_set_archived(template: Template, archived: bool, *, actor: User) -> Template:
    """归档 (no new envelopes from it; those made from it stay as they are) or 恢复."""
    if not can_manage(actor, template):
        raise TemplateError(_("您不能修改该模板。"))
    template.status = Template.Status.ARCHIVED if archived else Template.Status.ACTIVE
    template.archived_at = timezone.now() if archived else None
    template.save(update_fields=["status", "archived_at"])
    return template
