"""A verification report in plain words (文档验证): what a person reads on the page.

:class:`qianshu.signing.verdicts.VerificationReport` holds codes and the verifier's technical
sentences (English, as the command line prints them). This module turns it into lines in the
user's language — who signed, for which organisation, when, whether the time is vouched for
by a time-stamp, whether the content is intact, what changed afterwards, the PAdES level and
whether the certificate is trusted — and keeps the technical sentences for a details block.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from qianshu.signing.verdicts import (
    INDETERMINATE,
    INVALID,
    VALID,
    ChangeReport,
    SignatureReport,
    VerificationReport,
)


@dataclass(frozen=True)
class Line:
    label: str
    value: str
    ok: bool | None = None  # None: neutral


@dataclass(frozen=True)
class PlainSignature:
    number: int
    title: str
    verdict: str
    verdict_label: str
    lines: tuple[Line, ...]
    details: tuple[str, ...]


@dataclass(frozen=True)
class PlainReport:
    verdict: str
    verdict_label: str
    summary: str
    sha256: str
    size: int
    signatures: tuple[PlainSignature, ...]
    changes: tuple[str, ...]
    warnings: tuple[str, ...]


def verdict_label(verdict: str) -> str:
    return {
        VALID: pgettext("verification verdict", "有效"),
        INVALID: pgettext("verification verdict", "无效"),
        INDETERMINATE: pgettext("verification verdict", "无法确认"),
    }.get(verdict, verdict)


def _when(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


def _change(change: ChangeReport) -> str:
    where = _("第 %(page)d 页") % {"page": change.page + 1} if change.page is not None else ""
    field = change.field_name
    texts = {
        "added_after_completion": _("文件完成签署并锁定后又被添加了字段、签名或外观"),
        "covers_page_content": _("后来添加的外观遮盖了页面原有内容"),
        "draws_over_page_content": _("后来添加的外观压在页面内容上（未遮盖）"),
        "signature_repainted": _("签名完成后其外观被重新绘制"),
        "signature_replaced": _("签名完成后签名值被替换或删除"),
        "added_after_timestamp": _("文档时间戳之后添加了内容"),
        "deleted_content": _("后续修订删除了文档仍在使用的内容"),
        "unreadable_revisions": _("无法比对文件的后续修订"),
    }
    text = texts.get(change.kind, change.kind)
    parts = [p for p in (where, field) if p]
    return f"{text}（{'，'.join(parts)}）" if parts else text


def _time_line(sig: SignatureReport) -> Line:
    if sig.signing_time is None:
        return Line(_("签署时间"), _("未知"), None)
    if sig.signing_time_source == "timestamp":
        note = _("（由时间戳证明）")
        return Line(_("签署时间"), _when(sig.signing_time) + note, True)
    return Line(_("签署时间"), _when(sig.signing_time) + _("（签署人电脑声明，无时间戳）"), None)


def _revocation_line(sig: SignatureReport) -> Line:
    values = {
        "good": (_("证书在签署时未被吊销"), True),
        "revoked": (_("证书已被吊销"), False),
        "revoked_after_poe": (_("证书在签署之后才被吊销，签名仍有效"), True),
        "unknown": (_("无法取得吊销信息"), None),
        "not_checked": (_("未检查"), None),
    }
    text, ok = values.get(sig.revocation, (sig.revocation, None))
    return Line(_("吊销状态"), text, ok)


_MODIFICATIONS = {
    "none": lambda: (_("签署后未被修改"), True),
    "lta_updates": lambda: (_("签署后仅添加了长期验证数据和时间戳"), True),
    "form_filling": lambda: (_("签署后有允许的表单填写或后续签署"), True),
    "annotations": lambda: (_("签署后添加了注释"), False),
    "other": lambda: (_("签署后被修改"), False),
}


def _signature(sig: SignatureReport) -> PlainSignature:
    if sig.kind == "document_timestamp":
        title = _("文档时间戳")
    elif sig.kind == "certification":
        title = _("认证签名")
    else:
        title = _("签名")
    lines: list[Line] = []
    if sig.signer_name:
        lines.append(Line(_("签署人"), sig.signer_name))
    if sig.organisation:
        org = sig.organisation
        if sig.organisation_id:
            org += _("（统一社会信用代码 %(code)s）") % {"code": sig.organisation_id}
        lines.append(Line(_("所属组织"), org))
    if sig.kind != "document_timestamp":
        lines.append(_time_line(sig))
    elif sig.timestamp is not None and sig.timestamp.time is not None:
        lines.append(Line(_("时间"), _when(sig.timestamp.time), sig.timestamp.valid))
    if sig.timestamp is not None and sig.kind != "document_timestamp":
        lines.append(
            Line(
                _("时间戳"),
                (_("有效") if sig.timestamp.valid else _("无效")) + f" · {sig.timestamp.tsa}",
                sig.timestamp.valid,
            )
        )
    lines.append(
        Line(
            _("内容完整"),
            _("是，签署的内容未被篡改") if sig.intact else _("否，签署的内容已被改动"),
            sig.intact,
        )
    )
    if sig.modification_level:
        text, ok = _MODIFICATIONS.get(sig.modification_level, _MODIFICATIONS["other"])()
        lines.append(Line(_("签署后的变化"), text, ok))
    trusted = (
        _("可信：证书链到本平台或配置的信任根")
        if sig.trusted
        else _("不可信：证书不是由受信任的机构签发，或无法验证")
    )
    lines.append(Line(_("证书"), trusted, sig.trusted))
    if sig.chain:
        lines.append(Line(_("证书链"), " → ".join(sig.chain)))
    if sig.certificate_serial:
        lines.append(Line(_("证书序列号"), sig.certificate_serial))
    if sig.kind != "document_timestamp":
        lines.append(_revocation_line(sig))
    if sig.pades_level:
        lines.append(
            Line(
                _("签名级别"),
                f"PAdES {sig.pades_level}"
                + (_("（支持长期验证）") if sig.pades_level in ("B-LT", "B-LTA") else ""),
            )
        )
    return PlainSignature(
        number=sig.index + 1,
        title=title,
        verdict=sig.verdict,
        verdict_label=verdict_label(sig.verdict),
        lines=tuple(lines),
        details=sig.problems + sig.warnings,
    )


def plain_report(report: VerificationReport) -> PlainReport:
    """The page's view of ``report``."""
    signatures = tuple(_signature(s) for s in report.signatures)
    people = [s for s in report.signatures if s.kind != "document_timestamp"]
    if not report.signatures:
        summary = _("该文件没有电子签名，或无法读取。")
    elif report.verdict == VALID:
        summary = _("文件中的 %(count)d 个签名均有效，签署后内容未被篡改。") % {
            "count": len(people)
        }
    elif report.verdict == INVALID:
        summary = _("文件未通过验证：签名无效，或文件在签署后被改动。")
    else:
        summary = _("无法确认文件的签名是否有效（例如证书不受信任或缺少验证数据）。")
    changes = tuple(_change(c) for c in report.changes)
    return PlainReport(
        verdict=report.verdict,
        verdict_label=verdict_label(report.verdict),
        summary=summary,
        sha256=report.sha256,
        size=report.size,
        signatures=signatures,
        changes=changes,
        warnings=report.warnings,
    )
