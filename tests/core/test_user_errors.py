"""One error type for users (``qianshu.core.errors``): every refusal a person sees is a
``UserError`` with its own stable code and a message in both languages; views show it through
three helpers; the signing core's codes are said in the user's language in one table."""

from __future__ import annotations

import importlib
import io
import json
import pkgutil
import re
from pathlib import Path

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import RequestFactory
from django.utils import translation
from PIL import Image

import qianshu
from qianshu.accounts.codes import CodeInvalid, CodeRateLimited
from qianshu.core.errors import (
    SIGNING_MESSAGES,
    UserError,
    add_message,
    add_to_form,
    json_error,
    signing_message,
)
from qianshu.envelopes.errors import EnvelopeError, NotYourTurn
from qianshu.identity.errors import AlreadyVerified, HandoffUnusable, PinLocked
from qianshu.orgs.seals import SealError, prepare_seal_photo, render_problem
from qianshu.orgs.verification import CreditCodeTaken, OrgError
from qianshu.signing.errors import (
    ImageError,
    MissingGlyphError,
    NotAPdfError,
    PdfError,
    SigningError,
)

SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
CJK = re.compile(r"[\u3400-\u9fff]")
SIGNING_SOURCE = Path(qianshu.__file__).parent / "signing"


def _all_classes(base: type[BaseException]) -> list[type[BaseException]]:
    """Every subclass of ``base`` defined in the package (all modules imported first)."""
    for module_info in pkgutil.walk_packages(qianshu.__path__, "qianshu."):
        if ".migrations." in module_info.name or module_info.name.endswith(".__main__"):
            continue
        importlib.import_module(module_info.name)
    found: list[type[BaseException]] = []
    todo = [base]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("qianshu."):
            found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def _texts(cls: type[UserError]) -> list[str]:
    """The message texts a class can show (its default, its template, its per-reason texts)."""
    texts = [cls.default_message]
    template = getattr(cls, "template", "")
    if template:
        texts.append(template)
    texts.extend(getattr(cls, "messages", {}).values())
    return texts


def test_every_user_error_has_its_own_stable_code() -> None:
    classes = _all_classes(UserError)
    assert len(classes) > 60  # the apps' refusals were found, not only the base
    seen: dict[str, str] = {}
    for cls in classes:
        name = f"{cls.__module__}.{cls.__qualname__}"
        assert "code" in cls.__dict__, f"{name} inherits its code"
        code = cls.code  # type: ignore[attr-defined]
        assert SNAKE.match(code), f"{name}: {code!r} is not snake_case"
        assert code not in seen, f"{name} and {seen[code]} share the code {code!r}"
        seen[code] = name


def test_every_user_error_says_its_message_in_both_languages() -> None:
    for cls in _all_classes(UserError):
        for text in _texts(cls):  # type: ignore[arg-type]
            assert CJK.search(text), f"{cls.__qualname__}: {text!r} is not Chinese"
            with translation.override("en"):
                english = translation.gettext(text)
            assert english != text and not CJK.search(english), (
                f"{cls.__qualname__}: no English for {text!r}"
            )


def test_internal_errors_are_not_user_errors() -> None:
    from qianshu.storage.errors import BlobStoreError

    assert not issubclass(SigningError, UserError)
    assert not issubclass(BlobStoreError, UserError)


def test_the_message_is_translated_when_raised() -> None:
    with translation.override("en"):
        english = AlreadyVerified()
    chinese = AlreadyVerified()
    assert str(chinese) == chinese.message == "您已完成实名认证，无需重复认证。"
    assert str(english) and not CJK.search(str(english))
    # A message given at raise time wins over the default.
    assert str(EnvelopeError("任务已撤回。")) == "任务已撤回。"


# --- the three view helpers ------------------------------------------------------------------


class CodeForm(forms.Form):
    phone = forms.CharField(required=False)
    code = forms.CharField(required=False)


def test_add_to_form_puts_the_message_on_the_error_field() -> None:
    form = CodeForm(data={})
    assert form.is_valid()
    add_to_form(form, CodeInvalid("验证码错误。"))
    assert form.errors == {"code": ["验证码错误。"]}


def test_add_to_form_without_that_field_puts_it_above_the_form() -> None:
    form = CodeForm(data={})
    assert form.is_valid()
    exc = CreditCodeTaken()  # field "credit_code": not on this form
    add_to_form(form, exc)
    assert form.non_field_errors() == [exc.message]
    assert set(form.errors) == {"__all__"}


def test_add_to_form_field_argument_wins() -> None:
    form = CodeForm(data={})
    assert form.is_valid()
    add_to_form(form, CodeInvalid("验证码错误。"), field=None)
    add_to_form(form, OrgError("出错了。"), field="phone")
    assert form.errors == {"__all__": ["验证码错误。"], "phone": ["出错了。"]}


def test_add_message_shows_an_error_message() -> None:
    request = RequestFactory().post("/")
    request.session = SessionStore()
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    add_message(request, NotYourTurn("现在还没有轮到您签署。"))
    shown = list(get_messages(request))
    assert [(m.level_tag, m.message) for m in shown] == [("error", "现在还没有轮到您签署。")]


def test_json_error_carries_code_message_field_and_status() -> None:
    response = json_error(CodeRateLimited("发送过于频繁，请 60 秒后再试。", retry_after=60))
    assert response.status_code == 429
    assert json.loads(response.content) == {
        "error": {
            "code": "code_rate_limited",
            "message": "发送过于频繁，请 60 秒后再试。",
            "field": "code",
        }
    }
    gone = json_error(HandoffUnusable("expired"), retry_after=0)
    assert gone.status_code == 410
    body = json.loads(gone.content)["error"]
    assert body["code"] == "identity_handoff_unusable" and body["field"] is None
    assert body["retry_after"] == 0 and "二维码已过期" in body["message"]
    assert json_error(NotYourTurn()).status_code == 409


def test_a_time_limited_refusal_keeps_its_code() -> None:
    import datetime as dt

    from django.utils import timezone

    exc = PinLocked(timezone.now() + dt.timedelta(minutes=15))
    assert exc.code == "pin_locked" and "已锁定至" in exc.message


# --- the signing core's codes ----------------------------------------------------------------


def test_every_signing_error_code_has_a_translated_message() -> None:
    classes = _all_classes(SigningError)
    assert MissingGlyphError in classes and len(classes) > 15
    codes = {cls.code for cls in classes}  # type: ignore[attr-defined]
    # Finer codes passed at raise sites (``code="..."``) are in the table too.
    for path in SIGNING_SOURCE.glob("*.py"):
        codes.update(re.findall(r'code="([a-z_]+)"', path.read_text()))
    missing = sorted(code for code in codes if code not in SIGNING_MESSAGES)
    assert missing == []
    for code, text in SIGNING_MESSAGES.items():
        assert SNAKE.match(code) and CJK.search(text), code
        with translation.override("en"):
            english = translation.gettext(text)
        assert english != text and not CJK.search(english), f"no English for {code}"


def test_signing_message_by_code_then_by_class() -> None:
    assert signing_message(NotAPdfError("x")) == "只能上传 PDF 文件，该文件不是 PDF。"
    # An unknown finer code falls back to the nearest class's code.
    assert signing_message(PdfError("x", code="no_such_code")) == SIGNING_MESSAGES["pdf"]
    assert signing_message(ImageError("x", code="no_such_code")) == SIGNING_MESSAGES["image"]
    glyph = MissingGlyphError("character '\\U0001f600' is not in the font", char="\U0001f600")
    assert signing_message(glyph).startswith("印章字体中没有字符“\U0001f600”")
    with translation.override("en"):
        english = signing_message(NotAPdfError("x"))
    assert not CJK.search(english)


def test_seal_problems_are_told_by_code_not_by_english_text() -> None:
    # The English text is for logs: rewording it must not change what users read.
    assert render_problem(ImageError("anything", code="char_spacing")).startswith("字间距过大")
    assert render_problem(ImageError("too long, char_spacing, font_px")) == (
        "这组规格无法生成印章，请调整后重试。"
    )
    out = io.BytesIO()
    Image.new("RGB", (5, 5), "red").save(out, format="PNG")
    with pytest.raises(SealError) as raised:
        prepare_seal_photo(out.getvalue())
    assert raised.value.message == "图片太小，请上传更清晰的印章照片。"
