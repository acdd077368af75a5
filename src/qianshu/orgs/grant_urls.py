"""URLs of the grant pages (included by orgs/urls.py)."""

from django.urls import URLPattern, path

from qianshu.orgs import grant_views

urlpatterns: list[URLPattern] = [
    path("<uuid:org_uuid>/grants/", grant_views.grants_view, name="grants"),
    path(
        "<uuid:org_uuid>/grants/<uuid:grant_uuid>/revoke/",
        grant_views.revoke_grant_view,
        name="grant-revoke",
    ),
    path(
        "seal-grant-approval/<str:token>/",
        grant_views.grant_decision_view,
        name="grant-decision",
    ),
    path("<uuid:org_uuid>/my-seals/", grant_views.my_seals_view, name="my-seals"),
    path(
        "<uuid:org_uuid>/my-seals/<uuid:seal_uuid>/image.png",
        grant_views.my_seal_image_view,
        name="my-seal-image",
    ),
    path(
        "<uuid:org_uuid>/seals/<uuid:seal_uuid>/use/",
        grant_views.seal_use_view,
        name="seal-use",
    ),
    path("<uuid:org_uuid>/usage/", grant_views.usage_view, name="usage"),
    path(
        "<uuid:org_uuid>/usage/<int:usage_id>/download/",
        grant_views.usage_download_view,
        name="usage-download",
    ),
]
