"""URLs of the signing page (included by envelopes/urls.py)."""

from django.urls import URLPattern, path

from qianshu.envelopes.views import sign

urlpatterns: list[URLPattern] = [
    path("envelopes/<uuid:envelope_uuid>/sign/", sign.sign_view, name="sign"),
    path("envelopes/<uuid:envelope_uuid>/sign/submit/", sign.sign_submit_view, name="sign-submit"),
    path("envelopes/<uuid:envelope_uuid>/sign/code/", sign.sign_code_view, name="sign-code"),
    path("envelopes/<uuid:envelope_uuid>/sign/done/", sign.done_view, name="sign-done"),
    path("envelopes/<uuid:envelope_uuid>/approve/", sign.approve_view, name="approve"),
    path("envelopes/<uuid:envelope_uuid>/reject/", sign.reject_view, name="reject"),
    path("envelopes/<uuid:envelope_uuid>/send-back/", sign.send_back_view, name="send-back"),
]
