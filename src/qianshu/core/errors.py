"""One error type for users, and one place that says signing errors in the user's language.

:class:`UserError` is the base of every refusal a person is shown (an envelope action refused, a
verification refused, a wrong code …). Each subclass has a stable ``code`` (snake_case, for
programs and tests: never match on the message text), ``str(exc)`` / ``exc.message`` is the
message in the user's language, ``status`` the HTTP status a JSON answer carries and ``field``
the form field the message belongs to (``None``: the whole form).

Views turn one into a form error (:func:`add_to_form`), a Django message (:func:`add_message`)
or a JSON answer (:func:`json_error`).

Internal errors (the blob store's, the signing core's) are not user errors. The signing core is
a plain library: its :class:`~qianshu.signing.errors.SigningError` carries a ``code`` and an
English text for logs; :func:`signing_message` is the one place that turns such a code into a
message for the user.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from qianshu.signing.errors import SigningError

__all__ = [
    "SIGNING_MESSAGES",
    "UserError",
    "add_message",
    "add_to_form",
    "json_error",
    "signing_message",
]


class UserError(Exception):
    """A refusal with a message for the user (already translated when raised).

    ``default_message`` (marked with ``gettext_noop``) is used when no message is given, and is
    translated at raise time, in the language of the request being served.
    """

    code: ClassVar[str] = "user_error"
    default_message: ClassVar[str] = gettext_noop("操作未能完成，请检查后重试。")
    status: int = 400
    field: str | None = None

    def __init__(
        self, message: str = "", *, field: str | None = None, status: int | None = None
    ) -> None:
        text = str(message) if message else _(self.default_message)
        super().__init__(text)
        self.message = text
        if field is not None:
            self.field = field
        if status is not None:
            self.status = status


class _Unset:
    pass


_UNSET = _Unset()


def add_to_form(
    form: forms.BaseForm, exc: UserError, *, field: str | _Unset | None = _UNSET
) -> None:
    """Show ``exc`` on ``form``: on ``field`` when given (``None``: the whole form), else on the
    error's own field when the form has it, else above the form."""
    target = exc.field if isinstance(field, _Unset) else field
    if target is not None and target not in form.fields:
        target = None
    form.add_error(target, exc.message)


def add_message(request: HttpRequest, exc: UserError) -> None:
    """Show ``exc`` as an error message on the next page."""
    messages.error(request, exc.message)


def json_error(exc: UserError, **extra: Any) -> JsonResponse:
    """``{"error": {"code", "message", "field"}}`` with the error's HTTP status; ``extra`` keys
    are added inside ``error`` (``retry_after``, …)."""
    body: dict[str, Any] = {"code": exc.code, "message": exc.message, "field": exc.field}
    body.update(extra)
    return JsonResponse({"error": body}, status=exc.status)


# --- The signing core's codes, in the user's language ---------------------------------------

# Every code of a SigningError subclass has an entry (tests check it), plus the finer codes some
# raise sites pass (``code=...``). Texts say what the person can do about it.
SIGNING_MESSAGES: dict[str, str] = {
    "signing_error": gettext_noop("签署服务处理失败，请稍后重试。"),
    "configuration": gettext_noop("签署服务配置有误，请联系平台运营人员。"),
    "pki": gettext_noop("证书服务处理失败，请稍后重试或联系平台运营人员。"),
    "credit_code": gettext_noop("统一社会信用代码格式不正确。"),
    "root_key": gettext_noop("证书服务处理失败，请稍后重试或联系平台运营人员。"),
    "key_store": gettext_noop("签署密钥无法使用，请稍后重试或联系平台运营人员。"),
    "wrong_pin": gettext_noop("签署密码错误。"),
    "pin_format": gettext_noop("签署密码应为 6 位数字。"),
    "timestamp": gettext_noop("时间戳服务暂不可用，请稍后重试。"),
    "image": gettext_noop("无法读取该图片，文件可能已损坏，请换一张图片。"),
    "image_too_small": gettext_noop("图片太小，请上传更清晰的印章照片。"),
    "no_ink": gettext_noop("图片中没有找到笔迹或印章，请换一张清晰的图片。"),
    "missing_glyph": gettext_noop("印章字体中没有字符“%(char)s”，无法自动生成，请改用上传图片。"),
    "char_spacing": gettext_noop("字间距过大，组织名称排不下，请减小字间距。"),
    "font_size": gettext_noop("字号超出范围，请减小字号。"),
    "text_too_long": gettext_noop("文字过长，印章上排不下。"),
    "limit_exceeded": gettext_noop("文件处理超出时间或内存限制，请拆分或压缩后再上传。"),
    "pdf": gettext_noop("该 PDF 文件已损坏，无法读取。"),
    "page_index": gettext_noop("该页不存在。"),
    "render_width": gettext_noop("页面图片尺寸不正确。"),
    "render_format": gettext_noop("页面图片格式不正确。"),
    "evidence_report": gettext_noop("签署报告生成失败，请稍后重试。"),
    "not_pdf": gettext_noop("只能上传 PDF 文件，该文件不是 PDF。"),
    "encrypted_pdf": gettext_noop("该 PDF 已加密或设置了密码，请上传未加密的文件。"),
    "broken_pdf": gettext_noop("该 PDF 文件已损坏，无法读取。"),
    "pdf_too_large": gettext_noop("文件过大，请拆分或压缩后再上传。"),
    "field": gettext_noop("签署位置不正确，请检查后重试。"),
    "locked_pdf": gettext_noop(
        "该文件已在签署平台完成签署并锁定，不能再追加印章；如需盖章请使用未签署的原件。"
    ),
    "signature": gettext_noop("签名失败，请稍后重试。"),
    "signed_active_content": gettext_noop(
        "该文件已含有数字签名，同时包含无法移除的内容，不能在其上盖章。请上传未签名的原始文件。"
    ),
    "certified_pdf": gettext_noop("该文件已被认证签名锁定，不能再追加印章。"),
    "broken_signature": gettext_noop(
        "该文件中已有的签名无法验证，或文件在签名后被改动过，不能在其上盖章。"
    ),
    # Writing data fields into a document (signing/filltext.py); the doctemplates app names
    # the field itself, these are the fallbacks.
    "already_signed": gettext_noop("该文件已含有数字签名，不能再写入填写内容。"),
    "fill": gettext_noop("填写内容无法写入文件。"),
    "fill_too_long": gettext_noop("填写的内容太长，填写位置放不下。"),
    "fill_missing_glyph": gettext_noop("填写的内容含有无法显示的字符“%(char)s”。"),
    "fill_line_break": gettext_noop("该字段只能填写一行。"),
    "fill_outside_page": gettext_noop("填写位置超出了页面范围。"),
    "fill_no_page": gettext_noop("填写位置所在的页面不存在。"),
    "fill_bad_spec": gettext_noop("填写位置的设置无效。"),
}


def signing_message(exc: SigningError) -> str:
    """The user's message for a signing-core error: by its code, else by the nearest class code
    (a raise site may pass a finer code the table does not know)."""
    codes = [exc.code] + [
        klass.__dict__["code"] for klass in type(exc).__mro__ if "code" in klass.__dict__
    ]
    for code in codes:
        text = SIGNING_MESSAGES.get(code)
        if text is not None:
            message = _(text)
            if "%(char)s" in text:
                message = message % {"char": getattr(exc, "char", "")}
            return message
    return _(SIGNING_MESSAGES["signing_error"])


def fill_message(exc: SigningError, name: str) -> str:
    """The user's message for a value that cannot be written in the field named ``name``
    (a :class:`~qianshu.signing.filltext.FillError`): the field named, and the character the
    font lacks or the advice to shorten it."""
    if exc.code == "fill_missing_glyph":
        return _("“%(name)s”含有无法显示的字符“%(char)s”。") % {
            "name": name,
            "char": getattr(exc, "char", ""),
        }
    if exc.code == "fill_line_break":
        return _("“%(name)s”只能填写一行。") % {"name": name}
    return _("“%(name)s”的内容太长，填写位置放不下，请精简内容。") % {"name": name}
