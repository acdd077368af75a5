"""URLs of 个人签章 (handwritten signatures), included into the ``accounts`` namespace."""

from django.urls import path

from qianshu.accounts import signature_views as views

urlpatterns = [
    path("me/signatures/", views.signatures_view, name="signatures"),
    path("me/signatures/draw/", views.draw_view, name="signature-draw"),
    path("me/signatures/upload/", views.upload_view, name="signature-upload"),
    path("me/signatures/upload/save/", views.upload_save_view, name="signature-upload-save"),
    path("me/signatures/handoff/", views.handoff_view, name="signature-handoff"),
    path(
        "me/signatures/handoff/<int:handoff_id>/",
        views.handoff_qr_view,
        name="signature-handoff-qr",
    ),
    path(
        "me/signatures/handoff/<int:handoff_id>/status/",
        views.handoff_status_view,
        name="signature-handoff-status",
    ),
    path(
        "me/signatures/<int:signature_id>/image/",
        views.signature_image_view,
        name="signature-image",
    ),
    path(
        "me/signatures/<int:signature_id>/default/",
        views.set_default_view,
        name="signature-set-default",
    ),
    path("me/signatures/<int:signature_id>/delete/", views.delete_view, name="signature-delete"),
    # Opened on a phone from the QR code: no login, the token is the authorisation.
    path("handoff/<str:token>/", views.phone_view, name="signature-phone"),
]
