"""Handwritten signatures (个人签章): drawing, phone hand-off, upload, defaults and access."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from qianshu.accounts import access, actions, signatures
from qianshu.accounts.models import HandwrittenSignature, SecurityEvent, SignatureHandoff, User
from qianshu.core.meta import TASK
from qianshu.storage.blobs import reset_blob_store_cache
from qianshu.storage.models import Blob
from tests.accounts.signature_images import (
    blank_png,
    drawn_png,
    encode,
    noise_png,
    open_png,
    scan_jpeg,
    white_page_jpeg,
    windows_exe,
)
from tests.support.accounts import PERSONAS, make_user

pytestmark = pytest.mark.django_db

FETCH = {"X-Requested-With": "fetch"}
LIST_URL = "/me/signatures/"
DRAW_URL = "/me/signatures/draw/"
UPLOAD_URL = "/me/signatures/upload/"
HANDOFF_URL = "/me/signatures/handoff/"


@pytest.fixture(autouse=True)
def blob_dir(settings: Any, tmp_path: Path) -> Any:
    settings.QIANSHU_STORAGE = "local"
    settings.QIANSHU_STORAGE_DIR = tmp_path / "blobs"
    reset_blob_store_cache()
    yield settings.QIANSHU_STORAGE_DIR
    reset_blob_store_cache()


@pytest.fixture
def alice() -> User:
    return make_user("alice")


@pytest.fixture
def bob() -> User:
    return make_user("bob")


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def png_file(data: bytes, name: str = "signature.png", content_type: str = "image/png") -> Any:
    return SimpleUploadedFile(name, data, content_type=content_type)


def draw(client: Client, data: bytes, **extra: Any) -> Any:
    return client.post(DRAW_URL, {"image": png_file(data)}, headers=FETCH, **extra)


def saved_png(signature: HandwrittenSignature) -> Any:
    return open_png(signature.image.read())


def corners_alpha(image: Any) -> list[int]:
    alpha = image.getchannel("A")
    w, h = image.size
    return [alpha.getpixel(xy) for xy in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1))]


def events(user: User, action: str) -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(user=user, action=action).order_by("created_at", "id"))


def add_signature(user: User, variant: int) -> HandwrittenSignature:
    image = signatures.prepare_drawn_signature(drawn_png(variant=variant))
    return actions.do_save_signature(image, source="drawn", actor=user, meta=TASK)


# --- drawing in the browser ------------------------------------------------------------------


def test_drawn_signature_is_stored_trimmed_transparent_and_black(alice: User) -> None:
    client = client_for(alice)
    canvas = drawn_png((900, 400))
    response = draw(client, canvas)

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["redirect"] == LIST_URL
    signature = HandwrittenSignature.objects.get(user=alice)
    assert body["signature_id"] == signature.pk
    assert signature.source == "drawn" and signature.is_default
    image = saved_png(signature)
    assert image.mode == "RGBA" and image.size == (signature.width, signature.height)
    # Trimmed to the ink (about 505 x 130 on the canvas) with a small margin.
    ink = open_png(canvas).getchannel("A").getbbox()
    assert ink is not None
    ink_w, ink_h = ink[2] - ink[0], ink[3] - ink[1]
    assert ink_w < image.width <= ink_w + 60 and ink_h < image.height <= ink_h + 60
    assert corners_alpha(image) == [0, 0, 0, 0]
    pixels = np.asarray(image)
    opaque = pixels[..., 3] > 0
    assert opaque.mean() > 0.05
    assert pixels[opaque][:, :3].max() == 0  # black ink, the colour lives in the alpha
    assert signature.image.content_type == "image/png"
    [event] = events(alice, "signature_saved")
    assert event.detail == {"signature_id": signature.pk, "source": "drawn", "is_default": True}


def test_white_canvas_and_data_url_from_a_plain_form(alice: User) -> None:
    client = client_for(alice)
    data_url = "data:image/png;base64," + base64.b64encode(drawn_png(white=True)).decode()
    response = client.post(DRAW_URL, {"image_data": data_url})
    assert response.status_code == 302 and response["Location"] == LIST_URL
    image = saved_png(HandwrittenSignature.objects.get(user=alice))
    assert corners_alpha(image) == [0, 0, 0, 0]  # the white paint became transparent
    assert image.width < 600
    assert "签名已保存" in client.get(LIST_URL).content.decode()


def test_large_canvases_are_scaled_down(alice: User) -> None:
    client = client_for(alice)
    from PIL import Image, ImageDraw

    canvas = Image.new("RGBA", (3600, 1600), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).line([(100, 800), (1800, 300), (3500, 900)], fill="black", width=24)
    assert draw(client, encode(canvas)).status_code == 200
    signature = HandwrittenSignature.objects.get(user=alice)
    assert max(signature.width, signature.height) == signatures.SIGNATURE_MAX_PX


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"image": png_file(blank_png())}, "签名为空"),
        ({"image": png_file(white_page_jpeg())}, "应为 PNG"),
        ({"image": png_file(b"hello, I am not a picture")}, "应为 PNG"),
        ({"image": png_file(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)}, "无法读取"),
        ({"image": png_file(blank_png((4100, 40)))}, "尺寸过大"),
        ({"image": png_file(noise_png((800, 800)))}, "不能超过 2 MB"),
        ({"image": png_file(b"")}, "没有收到签名"),
        ({"image_data": "data:image/jpeg;base64,AAAA"}, "应为 PNG"),
        ({"image_data": "data:image/png;base64,@@@not-base64@@@"}, "应为 PNG"),
        ({}, "没有收到签名"),
    ],
    ids=[
        "blank",
        "jpeg",
        "text",
        "broken-png",
        "too-wide",
        "too-many-bytes",
        "empty",
        "jpeg-url",
        "bad-base64",
        "nothing",
    ],
)
def test_unusable_drawings_are_refused(alice: User, payload: dict[str, Any], message: str) -> None:
    client = client_for(alice)
    response = client.post(DRAW_URL, payload, headers=FETCH)
    assert response.status_code == 400
    assert response.json()["ok"] is False
    assert message in response.json()["message"]
    assert not HandwrittenSignature.objects.exists()
    assert not events(alice, "signature_saved")


def test_a_painted_over_canvas_and_a_mere_dot_are_refused(alice: User) -> None:
    from PIL import Image, ImageDraw

    response = draw(client_for(alice), encode(Image.new("RGBA", (400, 200), (0, 0, 0, 255))))
    assert response.status_code == 400 and "涂满" in response.json()["message"]
    dot = Image.new("RGBA", (1800, 800), (0, 0, 0, 0))
    ImageDraw.Draw(dot).ellipse((900, 400, 915, 415), fill="black")
    response = draw(client_for(alice), encode(dot))
    assert response.status_code == 400 and "签名太小" in response.json()["message"]
    assert not HandwrittenSignature.objects.exists()


def test_refused_drawing_without_fetch_shows_the_page_with_the_error(alice: User) -> None:
    response = client_for(alice).post(DRAW_URL, {"image": png_file(blank_png())})
    assert response.status_code == 400
    page = response.content.decode()
    assert "签名为空" in page and 'data-testid="signature-canvas"' in page


def test_draw_page_has_the_pad(alice: User) -> None:
    page = client_for(alice).get(DRAW_URL).content.decode()
    for testid in ("signature-canvas", "signature-clear", "signature-undo", "signature-save"):
        assert f'data-testid="{testid}"' in page
    assert "请使用正楷书写" in page and "清屏" in page and "撤销" in page and "使用签名" in page
    assert f'data-submit-url="{DRAW_URL}"' in page
    assert "qianshu/signature-pad.mjs" in page
    assert 'name="csrfmiddlewaretoken"' in page


# --- the list, defaults, deletion, cap --------------------------------------------------------


def test_list_shows_signatures_with_the_default_badge(alice: User) -> None:
    client = client_for(alice)
    assert "还没有手写签名" in client.get(LIST_URL).content.decode()
    first, second = add_signature(alice, 0), add_signature(alice, 1)
    page = client.get(LIST_URL).content.decode()
    assert page.count('data-testid="signature-item"') == 2
    assert page.index(f'data-signature-id="{first.pk}"') < page.index(
        f'data-signature-id="{second.pk}"'
    )  # the default first
    assert page.count('data-testid="signature-default"') == 1 and "默认" in page
    assert reverse("accounts:signature-image", args=[second.pk]) in page
    assert reverse("accounts:signature-set-default", args=[second.pk]) in page
    assert reverse("accounts:signature-set-default", args=[first.pk]) not in page
    for label in ("手写签名", "手机扫码签名", "上传签名图片"):
        assert label in page
    assert 'aria-current="page">个人签章' in page  # the user-centre menu


def test_default_logic(alice: User) -> None:
    client = client_for(alice)
    a, b, c = (add_signature(alice, v) for v in range(3))
    assert [s.pk for s in HandwrittenSignature.objects.filter(user=alice, is_default=True)] == [
        a.pk
    ]

    response = client.post(reverse("accounts:signature-set-default", args=[c.pk]))
    assert response.status_code == 302
    assert list(
        HandwrittenSignature.objects.filter(is_default=True).values_list("pk", flat=True)
    ) == [c.pk]
    assert events(alice, "signature_default_set")[-1].detail == {"signature_id": c.pk}

    # Deleting the default makes the newest remaining one (b) the default.
    assert client.post(reverse("accounts:signature-delete", args=[c.pk])).status_code == 302
    b.refresh_from_db()
    assert b.is_default and not HandwrittenSignature.objects.filter(pk=c.pk).exists()
    assert events(alice, "signature_deleted")[-1].detail == {
        "signature_id": c.pk,
        "was_default": True,
        "new_default_id": b.pk,
    }
    # Deleting another one leaves the default alone.
    client.post(reverse("accounts:signature-delete", args=[a.pk]))
    assert list(HandwrittenSignature.objects.values_list("pk", "is_default")) == [(b.pk, True)]
    client.post(reverse("accounts:signature-delete", args=[b.pk]))
    assert not HandwrittenSignature.objects.exists()
    assert len(events(alice, "signature_deleted")) == 3
    # The blobs stay (immutable store, garbage-collected separately).
    assert Blob.objects.count() == 3


def test_the_database_allows_one_default_per_user(alice: User, bob: User) -> None:
    a = add_signature(alice, 0)
    add_signature(bob, 0)  # another user's default is fine
    with pytest.raises(IntegrityError), transaction.atomic():
        HandwrittenSignature.objects.create(
            user=alice, image=a.image, source="drawn", width=1, height=1, is_default=True
        )


def test_the_same_picture_twice_is_one_signature(alice: User) -> None:
    client = client_for(alice)
    assert draw(client, drawn_png()).status_code == 200
    assert draw(client, drawn_png()).status_code == 200
    assert HandwrittenSignature.objects.filter(user=alice).count() == 1
    assert len(events(alice, "signature_saved")) == 1


def test_the_number_of_signatures_is_capped(alice: User) -> None:
    client = client_for(alice)
    blob = add_signature(alice, 0).image
    for _ in range(signatures.MAX_SIGNATURES - 1):
        HandwrittenSignature.objects.create(
            user=alice, image=blob, source="drawn", width=1, height=1
        )

    response = draw(client, drawn_png(variant=5))
    assert response.status_code == 400 and "最多可保存 10 个手写签名" in response.json()["message"]
    assert HandwrittenSignature.objects.filter(user=alice).count() == signatures.MAX_SIGNATURES
    page = client.get(LIST_URL).content.decode()
    assert 'data-testid="signature-cap"' in page and 'data-testid="signature-add-draw"' not in page
    assert "最多可保存" in client.get(DRAW_URL).content.decode()

    upload = client.post(UPLOAD_URL, {"image": png_file(scan_jpeg(), "scan.jpg", "image/jpeg")})
    assert upload.status_code == 400 and "最多可保存" in upload.content.decode()

    response = client.post(HANDOFF_URL, follow=True)
    assert "最多可保存" in response.content.decode()
    assert not SignatureHandoff.objects.exists()

    # Room again after a deletion.
    oldest = HandwrittenSignature.objects.filter(user=alice).earliest("created_at", "pk")
    client.post(reverse("accounts:signature-delete", args=[oldest.pk]))
    assert draw(client, drawn_png(variant=5)).status_code == 200


def test_signature_image_is_private(alice: User) -> None:
    signature = add_signature(alice, 0)
    response = client_for(alice).get(reverse("accounts:signature-image", args=[signature.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"].startswith("private")
    assert response.content == signature.image.read()


def test_state_changes_need_post(alice: User) -> None:
    client = client_for(alice)
    signature = add_signature(alice, 0)
    assert client.get(reverse("accounts:signature-delete", args=[signature.pk])).status_code == 405
    assert (
        client.get(reverse("accounts:signature-set-default", args=[signature.pk])).status_code
        == 405
    )
    assert HandwrittenSignature.objects.filter(pk=signature.pk).exists()


# --- upload of a photo or scan ------------------------------------------------------------------


def upload(
    client: Client, data: bytes, name: str = "scan.jpg", content_type: str = "image/jpeg"
) -> Any:
    return client.post(UPLOAD_URL, {"image": png_file(data, name, content_type)})


def preview_of(response: Any) -> tuple[bytes, str]:
    page = response.content.decode()
    src = re.search(r'id="signature-preview"[^>]*src="data:image/png;base64,([^"]+)"', page)
    reference = re.search(r'name="reference" value="([^"]+)"', page)
    assert src and reference, page
    return base64.b64decode(src.group(1)), reference.group(1)


def test_uploaded_scan_is_cleaned_previewed_then_saved(alice: User) -> None:
    client = client_for(alice)
    page = client.get(UPLOAD_URL).content.decode()
    assert 'data-testid="signature-upload-input"' in page and 'accept="image/*"' in page

    response = upload(client, scan_jpeg())
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    page = response.content.decode()
    assert (
        'data-testid="signature-preview"' in page and 'data-testid="signature-upload-save"' in page
    )
    assert "重新上传" in page
    cleaned, reference = preview_of(response)
    image = open_png(cleaned)
    assert image.mode == "RGBA" and corners_alpha(image) == [0, 0, 0, 0]
    assert np.asarray(image)[..., 3].max() == 255  # solid ink somewhere
    assert image.width < 1400 and image.height < 900  # cropped to the writing
    # Nothing is attached to the account before 保存.
    assert not HandwrittenSignature.objects.exists()

    response = client.post(reverse("accounts:signature-upload-save"), {"reference": reference})
    assert response.status_code == 302 and response["Location"] == LIST_URL
    signature = HandwrittenSignature.objects.get(user=alice)
    assert signature.source == "upload" and signature.is_default
    assert signature.image.read() == cleaned
    assert (signature.width, signature.height) == image.size
    assert events(alice, "signature_saved")[0].detail["source"] == "upload"
    # A second click on 保存 does not make a copy.
    client.post(reverse("accounts:signature-upload-save"), {"reference": reference})
    assert HandwrittenSignature.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (windows_exe(), "signature.jpg", "不是可识别的图片"),
        (b"", "signature.jpg", "文件为空"),
        (white_page_jpeg(), "page.jpg", "没有找到手写签名"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * (10 * 1024 * 1024), "huge.jpg", "不能超过 10 MB"),
        (scan_jpeg()[:2000], "cut.jpg", "无法读取该图片"),
    ],
    ids=["exe-renamed", "empty", "blank-page", "too-big", "truncated"],
)
def test_unusable_uploads_are_refused(alice: User, data: bytes, name: str, message: str) -> None:
    response = upload(client_for(alice), data, name)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert 'data-testid="signature-preview"' not in page
    assert not HandwrittenSignature.objects.exists()


def test_upload_without_a_file(alice: User) -> None:
    response = client_for(alice).post(UPLOAD_URL, {})
    assert response.status_code == 400 and "请选择要上传的签名图片" in response.content.decode()


def test_preview_reference_is_bound_to_its_user_and_cannot_be_forged(
    alice: User, bob: User
) -> None:
    _cleaned, reference = preview_of(upload(client_for(alice), scan_jpeg()))
    save = reverse("accounts:signature-upload-save")
    bob_client = client_for(bob)
    response = bob_client.post(save, {"reference": reference}, follow=True)
    assert "预览已失效" in response.content.decode()
    response = client_for(alice).post(save, {"reference": reference + "x"}, follow=True)
    assert "预览已失效" in response.content.decode()
    assert not HandwrittenSignature.objects.exists()


# --- phone hand-off --------------------------------------------------------------------------


def start_handoff(client: Client) -> tuple[SignatureHandoff, str]:
    """Click 手机扫码签名; returns the hand-off and the link shown under the QR code."""
    response = client.post(HANDOFF_URL)
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    html = page.content.decode()
    assert re.search(r'data-testid="handoff-qr"[^>]*>\s*<svg', html)
    link = re.search(r'data-testid="handoff-link" href="([^"]+)"[^>]*>([^<]+)<', html)
    assert link and link.group(1) == link.group(2)
    handoff = SignatureHandoff.objects.latest("pk")
    assert response["Location"] == reverse("accounts:signature-handoff-qr", args=[handoff.pk])
    return handoff, link.group(1)


def status_of(client: Client, handoff: SignatureHandoff) -> Any:
    return client.get(reverse("accounts:signature-handoff-status", args=[handoff.pk]))


def test_phone_handoff_from_qr_code_to_saved_signature(alice: User, settings: Any) -> None:
    settings.PUBLIC_URL = "https://qianshu.example.edu.cn"
    desktop = client_for(alice)
    add_signature(alice, 9)  # an existing one the phone must not see
    handoff, link = start_handoff(desktop)

    assert link.startswith("https://qianshu.example.edu.cn/handoff/")
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert len(base64.urlsafe_b64decode(token + "==")) >= 16  # at least 128 random bits
    assert handoff.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in handoff.token_hash
    assert handoff.expires_at - handoff.created_at == dt.timedelta(minutes=10)
    assert events(alice, "signature_handoff_started")[0].detail == {"handoff_id": handoff.pk}
    status = status_of(desktop, handoff).json()
    assert status["state"] == "waiting" and 590 <= status["expires_in"] <= 600
    assert status["signature"] is None

    phone = Client()  # anonymous, another device
    path = link.removeprefix("https://qianshu.example.edu.cn")
    page = phone.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert "138****0001" in html and PERSONAS["alice"] not in html and "alice" not in html
    assert "/me/signatures/" not in html  # no links to the account's signatures or images
    assert 'data-testid="signature-canvas"' in html and f'data-submit-url="{path}"' in html
    assert page["Cache-Control"] == "no-store" and page["Referrer-Policy"] == "no-referrer"

    response = phone.post(path, {"image": png_file(drawn_png(variant=3))}, headers=FETCH)
    assert response.status_code == 200 and response.json()["ok"] is True
    assert "回到电脑" in response.json()["message"]
    signature = HandwrittenSignature.objects.get(user=alice, source="phone")
    assert not signature.is_default  # alice already had a default
    handoff.refresh_from_db()
    assert handoff.used_at is not None and handoff.signature == signature
    saved = events(alice, "signature_saved")[-1]
    assert saved.detail["source"] == "phone" and saved.detail["handoff_id"] == handoff.pk

    status = status_of(desktop, handoff).json()
    assert status == {
        "state": "done",
        "expires_in": 0,
        "signature": {
            "id": signature.pk,
            "image_url": reverse("accounts:signature-image", args=[signature.pk]),
        },
    }
    assert desktop.get(status["signature"]["image_url"]).content == signature.image.read()
    # The QR page now shows the result.
    html = desktop.get(reverse("accounts:signature-handoff-qr", args=[handoff.pk])).content.decode()
    assert 'data-state="done"' in html

    # Single use: the token cannot be used again.
    again = phone.get(path)
    assert again.status_code == 410 and "已使用" in again.content.decode()
    response = phone.post(path, {"image": png_file(drawn_png(variant=4))}, headers=FETCH)
    assert response.status_code == 410 and "已使用" in response.json()["message"]
    assert HandwrittenSignature.objects.filter(user=alice).count() == 2


def test_phone_without_javascript_fetch_gets_a_page(alice: User) -> None:
    _handoff, link = start_handoff(client_for(alice))
    path = "/" + link.split("/", 3)[3]
    phone = Client()
    bad = phone.post(path, {"image": png_file(blank_png())})
    assert bad.status_code == 400 and "签名为空" in bad.content.decode()
    done = phone.post(path, {"image": png_file(drawn_png())})
    assert done.status_code == 200 and 'data-testid="phone-done"' in done.content.decode()


def test_expired_handoff_token_fails(alice: User) -> None:
    desktop = client_for(alice)
    handoff, link = start_handoff(desktop)
    SignatureHandoff.objects.filter(pk=handoff.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    path = "/" + link.split("/", 3)[3]
    phone = Client()
    response = phone.get(path)
    assert response.status_code == 410 and "已过期" in response.content.decode()
    assert 'data-testid="signature-canvas"' not in response.content.decode()
    response = phone.post(path, {"image": png_file(drawn_png())}, headers=FETCH)
    assert response.status_code == 410 and "已过期" in response.json()["message"]
    assert not HandwrittenSignature.objects.exists()
    assert status_of(desktop, handoff).json()["state"] == "expired"
    page = desktop.get(reverse("accounts:signature-handoff-qr", args=[handoff.pk])).content.decode()
    assert 'data-state="expired"' in page and "<svg" not in page


def test_unknown_tokens_fail_and_are_rate_limited(alice: User) -> None:
    phone = Client()
    response = phone.get("/handoff/" + "A" * 43 + "/")
    assert response.status_code == 404 and "二维码无效" in response.content.decode()
    response = phone.post("/handoff/nope/", {"image": png_file(drawn_png())}, headers=FETCH)
    assert response.status_code == 404 and "二维码无效" in response.json()["message"]
    assert phone.get("/handoff/" + "x" * 5000 + "/").status_code == 404
    assert not HandwrittenSignature.objects.exists()
    for _ in range(20):
        phone.get("/handoff/guess/")
    # After many misses from one address even a real token is refused for a while.
    _handoff, link = start_handoff(client_for(alice))
    response = phone.get("/" + link.split("/", 3)[3])
    assert response.status_code == 429 and "请求过于频繁" in response.content.decode()
    assert int(response["Retry-After"]) > 0
    other_address = phone.get("/" + link.split("/", 3)[3], REMOTE_ADDR="10.9.9.9")
    assert other_address.status_code == 200


def test_two_phones_racing_on_one_token_save_one_signature(alice: User) -> None:
    _handoff, token = actions.do_start_handoff(actor=alice, meta=TASK)
    opened_1 = access.access_handoff_by_token(token)
    opened_2 = access.access_handoff_by_token(token)
    actions.do_complete_handoff(
        opened_1, signatures.prepare_drawn_signature(drawn_png()), meta=TASK
    )
    with pytest.raises(signatures.SignatureHandoffUnusable) as excinfo:
        actions.do_complete_handoff(
            opened_2, signatures.prepare_drawn_signature(drawn_png(variant=2)), meta=TASK
        )
    assert excinfo.value.reason == "used"
    assert HandwrittenSignature.objects.count() == 1


def test_qr_page_in_another_browser_offers_a_new_code(alice: User) -> None:
    handoff, _link = start_handoff(client_for(alice))
    page = client_for(alice).get(reverse("accounts:signature-handoff-qr", args=[handoff.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" not in html and "重新生成二维码" in html


def test_handoff_start_page_explains_and_offers_the_button(alice: User) -> None:
    page = client_for(alice).get(HANDOFF_URL).content.decode()
    assert "生成二维码" in page and 'data-testid="handoff-start"' in page
    assert not SignatureHandoff.objects.exists()  # GET changes nothing


# --- access: other users and anonymous visitors ----------------------------------------------


def test_bob_cannot_touch_alices_signatures_or_handoff(alice: User, bob: User) -> None:
    signature = add_signature(alice, 0)
    handoff, _token = actions.do_start_handoff(actor=alice, meta=TASK)
    bob_client = client_for(bob)
    urls = {
        "image": reverse("accounts:signature-image", args=[signature.pk]),
        "status": reverse("accounts:signature-handoff-status", args=[handoff.pk]),
        "qr": reverse("accounts:signature-handoff-qr", args=[handoff.pk]),
    }
    for url in urls.values():
        assert bob_client.get(url).status_code == 404
    assert (
        bob_client.post(reverse("accounts:signature-delete", args=[signature.pk])).status_code
        == 404
    )
    assert (
        bob_client.post(reverse("accounts:signature-set-default", args=[signature.pk])).status_code
        == 404
    )
    # Same answer as for ids that do not exist.
    assert bob_client.get(reverse("accounts:signature-image", args=[99999])).status_code == 404
    assert bob_client.post(reverse("accounts:signature-delete", args=[99999])).status_code == 404
    signature.refresh_from_db()
    assert signature.is_default and signature.user == alice
    assert f'data-signature-id="{signature.pk}"' not in bob_client.get(LIST_URL).content.decode()
    assert not SecurityEvent.objects.filter(user=bob, action__startswith="signature").exists()


def test_anonymous_visitors_read_nothing(alice: User) -> None:
    signature = add_signature(alice, 0)
    handoff, token = actions.do_start_handoff(actor=alice, meta=TASK)
    anonymous = Client()
    for url in (
        LIST_URL,
        DRAW_URL,
        UPLOAD_URL,
        HANDOFF_URL,
        reverse("accounts:signature-image", args=[signature.pk]),
        reverse("accounts:signature-handoff-status", args=[handoff.pk]),
        reverse("accounts:signature-handoff-qr", args=[handoff.pk]),
    ):
        response = anonymous.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    response = anonymous.post(reverse("accounts:signature-delete", args=[signature.pk]))
    assert (
        response.status_code == 302
        and HandwrittenSignature.objects.filter(pk=signature.pk).exists()
    )
    # The phone page of a valid token shows the masked phone only; the token reads nothing else.
    page = anonymous.get(reverse("accounts:signature-phone", args=[token])).content.decode()
    assert "138****0001" in page and "/me/signatures/" not in page
    assert (
        anonymous.get(
            reverse("accounts:signature-image", args=[signature.pk]) + f"?t={token}"
        ).status_code
        == 302
    )


def test_signature_actions_reject_an_unknown_source(alice: User) -> None:
    image = signatures.prepare_drawn_signature(drawn_png())
    with pytest.raises(ValueError, match="unknown signature source"):
        actions.do_save_signature(image, source="fax", actor=alice, meta=TASK)
