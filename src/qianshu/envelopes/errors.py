"""Refusals of envelope actions. ``str(exc)`` is a message for the user (already translated);
see :class:`qianshu.core.errors.UserError`."""

from __future__ import annotations

from django.utils.translation import gettext_noop

from qianshu.core.errors import UserError


class EnvelopeError(UserError):
    """An envelope action was refused; the message says why, in the user's language."""

    code = "envelope_refused"


class NotYourTurn(EnvelopeError):
    """The recipient cannot act now (not their turn, already done, or the envelope ended)."""

    code = "not_your_turn"
    status = 409
    default_message = gettext_noop("现在不能处理该任务。")


class SealNotAllowed(EnvelopeError):
    """An API key may not seal this step: no current grant of a seal right for it."""

    code = "seal_not_allowed"
    status = 403
    default_message = gettext_noop(
        "该 API 密钥没有可用于此盖章环节的有效印章授权（印章须属于本组织、类型相符、授权有效）。"
    )


class DocumentChanged(EnvelopeError):
    """The document is not the one the signer saw (its revision is unknown or not an ancestor
    of the current revision)."""

    code = "document_changed"
    status = 409
    default_message = gettext_noop("文件已更新，请刷新页面后重新查看。")


class ConfirmationError(EnvelopeError):
    """The signing PIN or SMS code was not accepted."""

    code = "confirmation_refused"
