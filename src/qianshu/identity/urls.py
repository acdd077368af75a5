from django.urls import path

from qianshu.identity.views import certificate, handoff, pin, verification

app_name = "identity"

urlpatterns = [
    path("", verification.status_view, name="status"),
    path("start/", verification.start_view, name="start"),
    path("method/", verification.method_view, name="method"),
    path("face/", verification.face_view, name="face"),
    path("face/return/<uuid:attempt_uuid>/", verification.face_return_view, name="face-return"),
    path("phone/", verification.phone3_view, name="phone3"),
    path("bank-card/", verification.bank4_view, name="bank4"),
    path("manual/", verification.manual_view, name="manual"),
    path("attempts/<uuid:attempt_uuid>/", verification.result_view, name="result"),
    path(
        "attempts/<uuid:attempt_uuid>/photo/<str:which>/",
        verification.attempt_photo_view,
        name="attempt-photo",
    ),
    path("sandbox/face/<str:token>/", verification.sandbox_face_view, name="sandbox-face"),
    path(
        "handoff/<int:handoff_id>/status/",
        handoff.handoff_status_view,
        name="handoff-status",
    ),
    # Opened on a phone from the QR code of the status page (see identity/handoffs.py).
    path("handoff/<str:token>/", handoff.handoff_phone_view, name="handoff-phone"),
    path("pin/", pin.pin_view, name="pin"),
    path("pin/reset/", pin.pin_reset_view, name="pin-reset"),
    path("certificate/", certificate.certificate_view, name="certificate"),
    path(
        "certificate/<str:serial>.<str:fmt>",
        certificate.certificate_download_view,
        name="certificate-download",
    ),
]
