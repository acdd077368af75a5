"""Every SMS and e-mail text, in both languages, with values that end a sentence themselves (a
reason typed as "价格有误。"): never two marks in a row ("。。", "..", "，。")."""

from __future__ import annotations

import re

import pytest

from qianshu.notifications.messages import KINDS, render_email, render_sms

LANGUAGES = ("zh-hans", "en")
# Two punctuation marks in a row, Chinese or Latin ("..." is not used in any text).
DOUBLED = re.compile(r"[。．.！!？?；;，,、][。．.！!？?；;，,、]")
ENDINGS = ("", "。", ".", "！", "？ ")


def _context(keys: frozenset[str], ending: str) -> dict[str, str]:
    # Links and codes are as the platform makes them; what people type may end in anything.
    fixed = {"link": "https://qianshu.example/s/AbC123", "code": "123456", "minutes": "5"}
    return {key: fixed.get(key, f"值{key}{ending}") for key in keys}


def _texts(kind: str, ending: str, language: str) -> list[str]:
    spec = KINDS[kind]
    texts = []
    if spec.sms is not None:
        texts.append(render_sms(kind, _context(spec.sms_keys(), ending), language=language))
    if spec.subject is not None:
        mail = render_email(kind, _context(spec.email_keys(), ending), language=language)
        texts += [mail.subject, mail.body]
    return texts


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_doubled_punctuation(kind: str, ending: str, language: str) -> None:
    for text in _texts(kind, ending, language):
        assert not DOUBLED.search(text), text


def test_the_rejection_sms_ends_once() -> None:
    context = {"title": "采购合同", "who": "王五", "reason": "价格有误。"}
    text = render_sms("envelope_rejected", context, language="zh-hans")
    assert text.endswith("“采购合同”已被 王五 拒签，原因：价格有误。任务已结束。")
    english = render_sms("envelope_rejected", {**context, "reason": "Wrong price."}, language="en")
    assert "Reason: Wrong price. The signing task has ended." in english


def test_a_value_keeps_its_punctuation_where_no_mark_follows() -> None:
    context = {"title": "采购合同", "number": "QS1", "who": "王五", "reason": "价格有误。"}
    context["link"] = "https://qianshu.example/e/1"
    body = render_email("envelope_rejected", context, language="zh-hans").body
    assert "原因：价格有误。\n" in body
