"""URLs of the compose pages (included by envelopes/urls.py): 发起签署, the field editor,
确认发起, the draft box (草稿箱) and the organisation search of the recipient rows."""

from django.urls import URLPattern, path

from qianshu.envelopes.views import compose, org_search

urlpatterns: list[URLPattern] = [
    path("envelopes/new/", compose.new_view, name="new"),
    path("envelopes/drafts/", compose.drafts_view, name="drafts"),
    path("envelopes/organisations/", org_search.org_search_view, name="org-search"),
    path("envelopes/<uuid:envelope_uuid>/edit/", compose.edit_view, name="edit"),
    path("envelopes/<uuid:envelope_uuid>/fields/", compose.fields_view, name="fields"),
    path(
        "envelopes/<uuid:envelope_uuid>/fields/anchor/",
        compose.fields_anchor_view,
        name="fields-anchor",
    ),
    path("envelopes/<uuid:envelope_uuid>/send/", compose.send_view, name="send"),
    path("envelopes/<uuid:envelope_uuid>/delete/", compose.delete_view, name="delete"),
]
