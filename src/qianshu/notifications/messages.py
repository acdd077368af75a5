"""Message kinds: what each notification says, by SMS and by e-mail.

Texts are translatable strings whose source language is Simplified Chinese, with ``%(name)s``
placeholders filled from the context given to ``do_queue_sms`` / ``do_queue_email``. They are
rendered when the message is queued, in the recipient's language, and the outbox keeps the
rendered text: what was sent never changes when a translation does.

Adding a kind is one entry in ``KINDS``. The context keys a kind needs are the placeholders of its
source strings, so they cannot drift apart from the texts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.functional import Promise
from django.utils.html import conditional_escape
from django.utils.translation import gettext_lazy as _

__all__ = [
    "KINDS",
    "MessageContextError",
    "MessageError",
    "MessageKind",
    "RenderedEmail",
    "UnknownMessageKind",
    "render_email",
    "render_sms",
    "resolve_language",
]

Text: TypeAlias = str | Promise

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class MessageError(Exception):
    """A notification cannot be built: a programming error in the caller, raised at queue time."""


class UnknownMessageKind(MessageError, LookupError):
    """No such message kind, or the kind has no text for the requested channel."""


class MessageContextError(MessageError, ValueError):
    """The context does not have exactly the keys the kind's texts use."""


@dataclass(frozen=True, kw_only=True)
class MessageKind:
    """The texts of one kind of notification. ``None`` means the kind is not sent that way.

    ``sensitive`` kinds (one-time codes) are always redacted after delivery, whatever the caller
    passes. ``html`` is an optional HTML e-mail body (values are escaped); without it the plain
    body is wrapped in ``notifications/email.html``.
    """

    sms: Text | None = None
    subject: Text | None = None
    body: Text | None = None
    html: Text | None = None
    sensitive: bool = False

    def sms_keys(self) -> frozenset[str]:
        return _placeholders(self.sms)

    def email_keys(self) -> frozenset[str]:
        return _placeholders(self.subject, self.body, self.html)


def _code_kind(purpose: Text, sms: Text, body: Text) -> MessageKind:
    return MessageKind(sms=sms, subject=purpose, body=body, sensitive=True)


KINDS: dict[str, MessageKind] = {
    "login_code": _code_kind(
        _("登录验证码"),
        _("您的登录验证码为 %(code)s，%(minutes)s 分钟内有效。如非本人操作，请忽略。"),
        _("您的登录验证码为 %(code)s，%(minutes)s 分钟内有效。如非本人操作，请忽略本邮件。"),
    ),
    "reauth_code": _code_kind(
        _("身份确认验证码"),
        _("您正在进行身份确认，验证码为 %(code)s，%(minutes)s 分钟内有效。请勿告知他人。"),
        _(
            "您正在进行身份确认，验证码为 %(code)s，%(minutes)s 分钟内有效。"
            "请勿将验证码告知他人；如非本人操作，请立即修改密码。"
        ),
    ),
    "change_phone_code": _code_kind(
        _("更换手机号验证码"),
        _("您正在更换绑定手机号，验证码为 %(code)s，%(minutes)s 分钟内有效。请勿告知他人。"),
        _(
            "您正在更换账号绑定的手机号，验证码为 %(code)s，%(minutes)s 分钟内有效。"
            "请勿将验证码告知他人；如非本人操作，请忽略本邮件。"
        ),
    ),
    "pin_reset_code": _code_kind(
        _("重置签署密码验证码"),
        _("您正在重置签署密码，验证码为 %(code)s，%(minutes)s 分钟内有效。请勿告知他人。"),
        _(
            "您正在重置签署密码，验证码为 %(code)s，%(minutes)s 分钟内有效。"
            "请勿将验证码告知他人；如非本人操作，请立即联系管理员。"
        ),
    ),
    "identity_phone_code": _code_kind(
        _("实名认证验证码"),
        _("您正在进行实名认证，验证码为 %(code)s，%(minutes)s 分钟内有效。请勿告知他人。"),
        _(
            "您正在进行实名认证（手机号核验），验证码为 %(code)s，%(minutes)s 分钟内有效。"
            "请勿将验证码告知他人。"
        ),
    ),
    "sign_code": _code_kind(
        _("签署确认验证码"),
        _("您正在签署文件，验证码为 %(code)s，%(minutes)s 分钟内有效。请勿告知他人。"),
        _(
            "您正在签署文件，验证码为 %(code)s，%(minutes)s 分钟内有效。"
            "验证码仅用于本次签署，请勿告知他人。"
        ),
    ),
    "verification_approved": MessageKind(
        sms=_("%(name)s，您的实名认证已通过，现在可以签署文件了。"),
        subject=_("实名认证已通过"),
        body=_("%(name)s，您好：\n\n您的实名认证已通过，现在可以签署文件了。"),
    ),
    "verification_rejected": MessageKind(
        sms=_("%(name)s，您的实名认证未通过，原因：%(reason)s。请登录后重新提交。"),
        subject=_("实名认证未通过"),
        body=_(
            "%(name)s，您好：\n\n您的实名认证未通过。\n原因：%(reason)s\n\n"
            "请登录后修改资料并重新提交。"
        ),
    ),
    "email_changed": MessageKind(
        sms=_("您的账号绑定邮箱已更改为 %(email)s。如非本人操作，请立即联系管理员。"),
        subject=_("绑定邮箱已更改"),
        body=_("您的账号绑定邮箱已更改为 %(email)s。\n\n如非本人操作，请立即联系管理员。"),
    ),
    "phone_changed": MessageKind(
        sms=_(
            "您的签署账号绑定手机号已更换为 %(phone)s，所有设备已退出登录。"
            "如非本人操作，请立即联系平台客服。"
        ),
        subject=_("绑定手机号已更换"),
        body=_(
            "您好：\n\n您的签署账号绑定手机号已更换为 %(phone)s，所有设备已退出登录。\n\n"
            "如非本人操作，请立即联系平台客服。"
        ),
    ),
    "phone_changed_by_operator": MessageKind(
        sms=_(
            "平台运营人员已将您的签署账号绑定手机号更换为 %(phone)s（原因：%(reason)s），"
            "所有设备已退出登录。如有疑问，请立即联系平台客服。"
        ),
        subject=_("绑定手机号已由平台更换"),
        body=_(
            "您好：\n\n平台运营人员已将您的签署账号绑定手机号更换为 %(phone)s。\n"
            "原因：%(reason)s\n\n所有设备已退出登录。如有疑问，请立即联系平台客服。"
        ),
    ),
    "phone_bound": MessageKind(
        sms=_("本手机号已绑定签署账号（原手机号 %(old)s）。如非本人申请，请联系平台客服。"),
        subject=_("手机号已绑定签署账号"),
        body=_(
            "您好：\n\n本手机号已绑定签署账号（原手机号 %(old)s）。\n\n"
            "如非本人申请，请联系平台客服。"
        ),
    ),
    "identity_revoked": MessageKind(
        sms=_(
            "平台运营人员已撤销您的实名认证（原因：%(reason)s），个人数字证书已吊销，"
            "所有设备已退出登录。继续签署前请重新完成实名认证。"
        ),
        subject=_("实名认证已撤销"),
        body=_(
            "您好：\n\n平台运营人员已撤销您的实名认证，个人数字证书已吊销，"
            "所有设备已退出登录。\n原因：%(reason)s\n\n继续签署前请重新完成实名认证。"
        ),
    ),
    "credential_revoked": MessageKind(
        sms=_(
            "平台运营人员已吊销您的个人数字证书（原因：%(reason)s），所有设备已退出登录。"
            "继续签署前请重置签署密码。"
        ),
        subject=_("个人数字证书已吊销"),
        body=_(
            "您好：\n\n平台运营人员已吊销您的个人数字证书，所有设备已退出登录。\n"
            "原因：%(reason)s\n\n继续签署前请重置签署密码。"
        ),
    ),
    "org_invitation": MessageKind(
        sms=_("%(inviter)s 邀请您以%(role)s身份加入“%(org)s”，请点击 %(link)s 登录后接受邀请。"),
        subject=_("加入组织邀请"),
        body=_(
            "您好：\n\n%(inviter)s 邀请您以%(role)s身份加入“%(org)s”。\n"
            "请打开以下链接，登录后接受或拒绝邀请：\n%(link)s"
        ),
    ),
    "legal_rep_authorisation": MessageKind(
        sms=_(
            "%(name)s，“%(org)s”正在进行组织机构认证，需要您作为法定代表人确认授权，"
            "请点击 %(link)s 登录后处理。"
        ),
        subject=_("组织机构认证：法定代表人授权"),
        body=_(
            "%(name)s，您好：\n\n“%(org)s”正在进行组织机构认证，需要您作为法定代表人"
            "在线确认授权。请打开以下链接，登录后查看并同意或拒绝：\n%(link)s"
        ),
    ),
    "org_verified": MessageKind(
        sms=_("“%(org)s”已通过组织机构认证，现在可以制作印章了。"),
        subject=_("组织机构认证已通过"),
        body=_("您好：\n\n“%(org)s”已通过组织机构认证，现在可以制作电子印章并授权成员使用。"),
    ),
    "webhook_disabled": MessageKind(
        sms=_(
            "“%(org)s”的 Webhook 接收地址 %(url)s 已连续 %(days)s 天推送失败，已被停用。"
            "请检查后在开放平台中重新启用。"
        ),
        subject=_("Webhook 接收地址已停用"),
        body=_(
            "您好：\n\n“%(org)s”的 Webhook 接收地址 %(url)s 已连续 %(days)s 天推送失败，"
            "平台已停用该地址。\n\n请检查接收服务后，在【开放平台】-【Webhook】中重新启用，"
            "并重新推送失败的消息。"
        ),
    ),
    "org_rejected": MessageKind(
        sms=_("“%(org)s”的组织机构认证未通过，原因：%(reason)s。请登录后修改并重新提交。"),
        subject=_("组织机构认证未通过"),
        body=_(
            "您好：\n\n“%(org)s”的组织机构认证未通过。\n原因：%(reason)s\n\n"
            "请登录后修改资料并重新提交。"
        ),
    ),
    "org_same_name": MessageKind(
        sms=_(
            "平台上有另一组织以“%(org)s”的名称申请组织机构认证，已转平台人工审核。"
            "如非贵单位所为，请留意并联系平台。"
        ),
        subject=_("同名组织申请认证提醒"),
        body=_(
            "您好：\n\n平台上有另一组织以“%(org)s”的名称申请组织机构认证。"
            "该申请不会自动通过，已转平台工作人员人工审核。\n\n"
            "如非贵单位所为，请留意并联系平台。"
        ),
    ),
    "seal_grant_approval": MessageKind(
        sms=_(
            "%(name)s，“%(org)s”申请将您的“%(seal)s”授权给 %(grantee)s 使用，"
            "请点击 %(link)s 登录后同意或拒绝。"
        ),
        subject=_("法定代表人章授权确认"),
        body=_(
            "%(name)s，您好：\n\n“%(org)s”申请将您的“%(seal)s”授权给 %(grantee)s 使用。"
            "\n请打开以下链接，登录后同意或拒绝：\n%(link)s"
        ),
    ),
    "seal_granted": MessageKind(
        sms=_("“%(org)s”已授权您使用“%(seal)s”，有效期至 %(until)s。"),
        subject=_("印章授权通知"),
        body=_("您好：\n\n“%(org)s”已授权您使用“%(seal)s”，有效期至 %(until)s。"),
    ),
    # Tripartite employment agreements (就业协议, the employment app)
    "employment_invitation": MessageKind(
        sms=_(
            "%(employer)s 向您发出了就业协议签约邀请（%(position)s），请在 %(deadline)s 前"
            "登录查看邀请函并应约：%(link)s"
        ),
        subject=_("签约邀请：%(employer)s"),
        body=_(
            "%(student)s 同学，您好：\n\n%(employer)s 向您发出了就业协议签约邀请，"
            "拟聘职位：%(position)s。\n请在 %(deadline)s 前登录查看邀请函，同意或拒绝：\n%(link)s"
        ),
    ),
    "employment_answered": MessageKind(
        sms=_("%(student)s %(answer)s了贵单位的签约邀请（协议书编号 %(number)s）：%(link)s"),
        subject=_("签约邀请回复：%(student)s %(answer)s"),
        body=_(
            "您好：\n\n%(student)s %(answer)s了贵单位的签约邀请（协议书编号 %(number)s）。"
            "\n%(link)s"
        ),
    ),
    "employment_decided": MessageKind(
        sms=_("就业协议（编号 %(number)s，%(employer)s）%(result)s：%(link)s"),
        subject=_("就业协议%(result)s"),
        body=_(
            "您好：\n\n%(student)s 与 %(employer)s 的就业协议（编号 %(number)s）%(result)s。"
            "\n%(reason)s\n%(link)s"
        ),
    ),
    "employment_termination": MessageKind(
        sms=_("%(who)s 申请解除就业协议（编号 %(number)s），请登录查看解约申请：%(link)s"),
        subject=_("解约申请：%(number)s"),
        body=_(
            "您好：\n\n%(who)s 申请解除就业协议（编号 %(number)s）。\n解约原因：%(reason)s"
            "\n请登录查看并处理：\n%(link)s"
        ),
    ),
    "employment_termination_decided": MessageKind(
        sms=_("就业协议（编号 %(number)s）的解约申请%(result)s：%(link)s"),
        subject=_("解约申请%(result)s"),
        body=_("您好：\n\n就业协议（编号 %(number)s）的解约申请%(result)s。\n%(reason)s\n%(link)s"),
    ),
    "envelope_sign_request": MessageKind(
        sms=_("%(initiator)s 发起了“%(title)s”，请您%(action)s%(deadline)s：%(link)s"),
        subject=_("请签署：%(title)s"),
        body=_(
            "您好：\n\n%(initiator)s 发起了签署任务“%(title)s”（编号 %(number)s），"
            "请您%(action)s%(deadline)s。\n%(note)s\n请打开以下链接，登录后查看并处理：\n%(link)s"
        ),
    ),
    "envelope_reminder": MessageKind(
        sms=_("提醒：“%(title)s”正在等待您%(action)s%(deadline)s：%(link)s"),
        subject=_("提醒：%(title)s 等待您处理"),
        body=_(
            "您好：\n\n签署任务“%(title)s”（编号 %(number)s）正在等待您%(action)s"
            "%(deadline)s。\n请打开以下链接处理：\n%(link)s"
        ),
    ),
    "envelope_progress": MessageKind(
        sms=_("“%(title)s”：%(who)s 已%(action)s，当前进度 %(progress)s。"),
        subject=_("%(title)s：%(who)s 已%(action)s"),
        body=_(
            "您好：\n\n您发起的“%(title)s”（编号 %(number)s）中，%(who)s 已%(action)s，"
            "当前进度 %(progress)s。\n%(link)s"
        ),
    ),
    # 批量签署: what one batch moved, summarised per person (one message instead of one per
    # envelope; ``items`` are lines made by ``envelopes.routing``).
    "envelope_sign_request_batch": MessageKind(
        sms=_("您有 %(count)s 份文件待处理：%(titles)s。请登录后在“待我签署”中查看：%(link)s"),
        subject=_("%(count)s 份文件待您处理"),
        body=_(
            "您好：\n\n以下 %(count)s 份文件轮到您处理：\n%(items)s\n\n"
            "请打开各文件的链接，或登录后在“待我签署”中查看：\n%(link)s"
        ),
    ),
    "envelope_progress_batch": MessageKind(
        sms=_("%(who)s 已%(action)s您发起的 %(count)s 份文件：%(titles)s。"),
        subject=_("%(who)s 已%(action)s %(count)s 份文件"),
        body=_("您好：\n\n%(who)s 已%(action)s您发起的以下 %(count)s 份文件：\n%(items)s"),
    ),
    "envelope_rejected": MessageKind(
        sms=_("“%(title)s”已被 %(who)s 拒签，原因：%(reason)s。任务已结束。"),
        subject=_("%(title)s 已被拒签"),
        body=_(
            "您好：\n\n“%(title)s”（编号 %(number)s）已被 %(who)s 拒签，任务已结束。\n"
            "原因：%(reason)s\n%(link)s"
        ),
    ),
    "envelope_returned": MessageKind(
        sms=_("“%(title)s”已被 %(who)s 退回，原因：%(reason)s。请修改后重新发起：%(link)s"),
        subject=_("%(title)s 已被退回"),
        body=_(
            "您好：\n\n您发起的“%(title)s”（编号 %(number)s）已被 %(who)s 退回修改。\n"
            "原因：%(reason)s\n请打开以下链接修改文件、签署位置或签署方后重新发起：\n%(link)s"
        ),
    ),
    "envelope_returned_party": MessageKind(
        sms=_("“%(title)s”已被 %(who)s 退回发起方修改，原因：%(reason)s。重新发起后会再通知您。"),
        subject=_("%(title)s 已退回发起方修改"),
        body=_(
            "您好：\n\n“%(title)s”（编号 %(number)s）已被 %(who)s 退回发起方修改。\n"
            "原因：%(reason)s\n发起方重新发起后会再通知您。\n%(link)s"
        ),
    ),
    "envelope_resent": MessageKind(
        sms=_("%(initiator)s 已修改并重新发起“%(title)s”：%(link)s"),
        subject=_("%(title)s 已重新发起"),
        body=_(
            "您好：\n\n%(initiator)s 已修改并重新发起“%(title)s”（编号 %(number)s），"
            "轮到您时会通知您。\n%(link)s"
        ),
    ),
    "envelope_resent_kept": MessageKind(
        sms=_(
            "%(initiator)s 已修改并重新发起“%(title)s”，您此前的签署仍然有效，"
            "无需再次处理：%(link)s"
        ),
        subject=_("%(title)s 已重新发起，您的签署仍然有效"),
        body=_(
            "您好：\n\n%(initiator)s 已修改并重新发起“%(title)s”（编号 %(number)s）。"
            "您签署过的文件未被修改，您此前的签署仍然有效，无需再次处理。\n%(link)s"
        ),
    ),
    "envelope_resign": MessageKind(
        sms=_(
            "%(initiator)s 修改了“%(title)s”中的文件%(documents)s，您此前在其中的签署已失效，"
            "轮到您时请重新签署：%(link)s"
        ),
        subject=_("%(title)s 需要您重新签署"),
        body=_(
            "您好：\n\n%(initiator)s 修改并重新发起了“%(title)s”（编号 %(number)s）。"
            "文件%(documents)s已修改，您此前在其中的签署已失效，轮到您时请重新签署。\n%(link)s"
        ),
    ),
    "envelope_completed": MessageKind(
        sms=_("“%(title)s”已完成签署，可登录下载签署文件：%(link)s"),
        subject=_("%(title)s 已完成签署"),
        body=_(
            "您好：\n\n“%(title)s”（编号 %(number)s）已由各方签署完成。\n"
            "签署文件与签署报告可在以下地址下载：\n%(link)s"
        ),
    ),
    "envelope_cc": MessageKind(
        sms=_("%(initiator)s 抄送给您：“%(title)s”已完成签署，查看：%(link)s"),
        subject=_("抄送：%(title)s 已完成签署"),
        body=_(
            "您好：\n\n%(initiator)s 将已完成签署的“%(title)s”（编号 %(number)s）抄送给您，"
            "签署文件见附件，也可在以下地址查看：\n%(link)s"
        ),
    ),
    "envelope_recalled": MessageKind(
        sms=_("%(initiator)s 已撤回“%(title)s”，您无需再处理。"),
        subject=_("%(title)s 已撤回"),
        body=_(
            "您好：\n\n%(initiator)s 已撤回签署任务“%(title)s”（编号 %(number)s），您无需再处理。"
        ),
    ),
    "envelope_expired": MessageKind(
        sms=_("“%(title)s”已过签署截止时间，任务已结束。"),
        subject=_("%(title)s 已过期"),
        body=_("您好：\n\n签署任务“%(title)s”（编号 %(number)s）已过签署截止时间，任务已结束。"),
    ),
    "envelope_voided": MessageKind(
        sms=_("“%(title)s”已作废，作废声明已由各方签署。"),
        subject=_("%(title)s 已作废"),
        body=_("您好：\n\n“%(title)s”（编号 %(number)s）已作废，作废声明已由各方签署。\n%(link)s"),
    ),
    "envelope_org_mismatch": MessageKind(
        sms=_(
            "“%(title)s”的盖章方“%(name)s”未能绑定：统一社会信用代码 %(code)s 的组织以"
            "“%(org)s”的名称完成了认证，名称不一致，暂时无人可以盖章。请核对签署方：%(link)s"
        ),
        subject=_("%(title)s：盖章方未能绑定组织"),
        body=_(
            "您好：\n\n“%(title)s”（编号 %(number)s）的盖章方填写为“%(name)s”、统一社会信用代码"
            " %(code)s。该信用代码的组织已以“%(org)s”的名称完成了组织认证，与填写的名称不一致，"
            "因此没有把该盖章环节交给它，目前无人可以为该盖章方盖章。\n"
            "请核对签署方信息；如确为该组织，请撤回后重新发起并在签署方中选择它：\n%(link)s"
        ),
    ),
    "test_message": MessageKind(
        sms=_("这是一条测试短信，收到即表示短信通道配置正确。"),
        subject=_("签署测试邮件"),
        body=_("这是一封测试邮件，收到即表示邮件通道配置正确。"),
    ),
}

EMAIL_FOOTER = _("—— 签署电子签章平台\n此邮件由系统自动发送，请勿直接回复。")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    body: str
    html_body: str


def get_kind(kind: str) -> MessageKind:
    try:
        return KINDS[kind]
    except KeyError:
        raise UnknownMessageKind(f"unknown message kind {kind!r}") from None


def resolve_language(language: str) -> str:
    """The supported language closest to ``language`` (``en-us`` → ``en``), else the default."""
    try:
        return translation.get_supported_language_variant(language)
    except LookupError:
        return str(settings.LANGUAGE_CODE)


def render_sms(kind: str, context: Mapping[str, object], *, language: str) -> str:
    """The SMS text of ``kind`` in ``language``, with the configured signature in front."""
    spec = get_kind(kind)
    if spec.sms is None:
        raise UnknownMessageKind(f"message kind {kind!r} has no SMS text")
    _check_context(kind, spec, spec.sms_keys(), context)
    with translation.override(resolve_language(language)):
        text = _fill(kind, spec.sms, context)
    return f"{settings.QIANSHU_SMS_SIGNATURE}{text}"


def render_email(kind: str, context: Mapping[str, object], *, language: str) -> RenderedEmail:
    """The subject, plain-text body and HTML body of ``kind`` in ``language``."""
    spec = get_kind(kind)
    if spec.subject is None or spec.body is None:
        raise UnknownMessageKind(f"message kind {kind!r} has no e-mail text")
    _check_context(kind, spec, spec.email_keys(), context)
    with translation.override(resolve_language(language)):
        # A subject is one line: a translation must not smuggle header line breaks in.
        subject = " ".join(_fill(kind, spec.subject, context).split())
        text = _fill(kind, spec.body, context)
        footer = str(EMAIL_FOOTER)
        if spec.html is not None:
            escaped = {key: conditional_escape(str(value)) for key, value in context.items()}
            html = _fill(kind, spec.html, escaped)
        else:
            html = render_to_string(
                "notifications/email.html", {"subject": subject, "text": text, "footer": footer}
            )
    return RenderedEmail(subject=subject, body=f"{text}\n\n{footer}\n", html_body=html)


def _check_context(
    kind: str, spec: MessageKind, needed: frozenset[str], context: Mapping[str, object]
) -> None:
    given = set(context)
    missing = needed - given
    if missing:
        raise MessageContextError(
            f"message kind {kind!r} needs context keys {sorted(missing)} (given {sorted(given)})"
        )
    unknown = given - spec.sms_keys() - spec.email_keys()
    if unknown:
        raise MessageContextError(
            f"message kind {kind!r} does not use context keys {sorted(unknown)}"
        )


# A value that ends a sentence itself (a reason typed as "价格有误。") is not followed by a second
# mark: where the text puts punctuation right after a placeholder, the value's own trailing
# punctuation goes (never "。。", "..", "，。").
_PUNCTUATION = "。．.！!？?；;，,、"
_BEFORE_MARK = re.compile(r"%\((\w+)\)s(?=[" + re.escape(_PUNCTUATION) + "])")
_TRIMMED = "\x00trimmed"


def _fill(kind: str, text: Text, context: Mapping[str, object]) -> str:
    values = dict(context)
    template = _BEFORE_MARK.sub(lambda m: f"%({m.group(1)}{_TRIMMED})s", str(text))
    for key in _BEFORE_MARK.findall(str(text)):
        if key in values:
            values[key + _TRIMMED] = str(values[key]).rstrip(_PUNCTUATION + " \t\n")
    try:
        return template % values
    except (KeyError, ValueError, TypeError) as exc:
        # Only a broken translation gets here: the source strings were checked against the context.
        raise MessageContextError(f"cannot render message kind {kind!r}: {exc!r}") from exc


def _placeholders(*texts: Text | None) -> frozenset[str]:
    # Deactivated translations give the source strings: the keys are defined by those.
    with translation.override(None):
        return frozenset(
            name for text in texts if text is not None for name in _PLACEHOLDER.findall(str(text))
        )
