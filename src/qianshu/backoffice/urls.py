from django.urls import path

from qianshu.backoffice import org_views, school_views, user_views, views

app_name = "backoffice"

urlpatterns = [
    path("", views.home_view, name="home"),
    path("identity/", views.identity_queue_view, name="identity-queue"),
    path("identity/<uuid:attempt_uuid>/", views.identity_review_view, name="identity-review"),
    path(
        "identity/<uuid:attempt_uuid>/photo/<str:which>/",
        views.identity_photo_view,
        name="identity-photo",
    ),
    path(
        "identity/<uuid:attempt_uuid>/decide/",
        views.identity_decide_view,
        name="identity-decide",
    ),
    path("users/", user_views.user_search_view, name="users"),
    path("users/<int:user_id>/", user_views.user_view, name="user"),
    path("users/<int:user_id>/phone/", user_views.user_phone_view, name="user-phone"),
    path(
        "users/<int:user_id>/identity/revoke/",
        user_views.user_identity_revoke_view,
        name="user-identity-revoke",
    ),
    path(
        "users/<int:user_id>/credential/revoke/",
        user_views.user_credential_revoke_view,
        name="user-credential-revoke",
    ),
    path("orgs/", org_views.org_queue_view, name="org-queue"),
    path("orgs/<uuid:org_uuid>/", org_views.org_review_view, name="org-review"),
    path("orgs/<uuid:org_uuid>/licence/", org_views.org_licence_view, name="org-licence"),
    path("orgs/<uuid:org_uuid>/decide/", org_views.org_decide_view, name="org-decide"),
    path(
        "orgs/<uuid:org_uuid>/school/",
        school_views.org_mark_school_view,
        name="org-mark-school",
    ),
]
