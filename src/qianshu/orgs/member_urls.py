"""URLs of the member pages (included by orgs/urls.py)."""

from django.urls import URLPattern, path

from qianshu.orgs import member_views

urlpatterns: list[URLPattern] = [
    path("switch/", member_views.switch_view, name="switch"),
    path("invitations/<str:token>/", member_views.invitation_view, name="invitation"),
    path("<uuid:org_uuid>/", member_views.detail_view, name="detail"),
    path("<uuid:org_uuid>/members/", member_views.members_view, name="members"),
    path("<uuid:org_uuid>/members/invite/", member_views.invite_view, name="member-invite"),
    path(
        "<uuid:org_uuid>/members/<int:member_id>/role/",
        member_views.member_role_view,
        name="member-role",
    ),
    path(
        "<uuid:org_uuid>/members/<int:member_id>/remove/",
        member_views.member_remove_view,
        name="member-remove",
    ),
    path(
        "<uuid:org_uuid>/members/<int:member_id>/transfer/",
        member_views.member_transfer_view,
        name="member-transfer",
    ),
    path(
        "<uuid:org_uuid>/invitations/<uuid:invitation_uuid>/revoke/",
        member_views.invitation_revoke_view,
        name="invitation-revoke",
    ),
    path("<uuid:org_uuid>/leave/", member_views.leave_view, name="leave"),
]
