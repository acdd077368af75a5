"""URLs of the organisation list, creation and verification pages (included by orgs/urls.py)."""

from django.urls import URLPattern, path

from qianshu.orgs import create_views
from qianshu.orgs import verification_views as views

urlpatterns: list[URLPattern] = [
    path("", views.org_list_view, name="list"),
    path("new/", create_views.org_create_view, name="create"),
    path("<uuid:org_uuid>/edit/", views.org_edit_view, name="edit"),
    path("<uuid:org_uuid>/verify/", views.verify_view, name="verify"),
    path("<uuid:org_uuid>/verify/legal-rep/", views.legal_rep_view, name="verify-legal-rep"),
    path("<uuid:org_uuid>/verify/deposit/", views.deposit_view, name="verify-deposit"),
    path(
        "<uuid:org_uuid>/verify/platform-deposit/",
        views.platform_deposit_view,
        name="verify-platform-deposit",
    ),
    path("<uuid:org_uuid>/verify/manual/", views.manual_review_view, name="verify-manual"),
    path(
        "<uuid:org_uuid>/verify/registry/",
        views.registry_recheck_view,
        name="verify-registry-recheck",
    ),
    path(
        "<uuid:org_uuid>/verify/sandbox-bank/",
        views.sandbox_bank_view,
        name="verify-sandbox-bank",
    ),
    path("<uuid:org_uuid>/licence/", views.licence_view, name="licence"),
    path("<uuid:org_uuid>/licence/preview/", views.licence_preview_view, name="licence-preview"),
    path(
        "legal-rep/<str:token>/",
        views.legal_rep_authorise_view,
        name="legal-rep-authorise",
    ),
]
