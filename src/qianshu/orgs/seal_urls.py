"""URLs of the seal pages (included by orgs/urls.py)."""

from django.urls import URLPattern, path

from qianshu.orgs import seal_views as views

urlpatterns: list[URLPattern] = [
    path("<uuid:org_uuid>/seals/", views.seals_view, name="seals"),
    path("<uuid:org_uuid>/seals/new/", views.seal_new_view, name="seal-new"),
    path("<uuid:org_uuid>/seals/preview.png", views.seal_preview_view, name="seal-preview"),
    path("<uuid:org_uuid>/seals/upload/", views.seal_upload_view, name="seal-upload"),
    path(
        "<uuid:org_uuid>/seals/upload/save/",
        views.seal_upload_save_view,
        name="seal-upload-save",
    ),
    path(
        "<uuid:org_uuid>/seals/<uuid:seal_uuid>/image.png",
        views.seal_image_view,
        name="seal-image",
    ),
    path(
        "<uuid:org_uuid>/seals/<uuid:seal_uuid>/certificate.cer",
        views.seal_certificate_view,
        name="seal-certificate",
    ),
    path(
        "<uuid:org_uuid>/seals/<uuid:seal_uuid>/disable/",
        views.seal_disable_view,
        name="seal-disable",
    ),
    path(
        "<uuid:org_uuid>/seals/<uuid:seal_uuid>/enable/",
        views.seal_enable_view,
        name="seal-enable",
    ),
    path(
        "<uuid:org_uuid>/seals/<uuid:seal_uuid>/destroy/",
        views.seal_destroy_view,
        name="seal-destroy",
    ),
]
