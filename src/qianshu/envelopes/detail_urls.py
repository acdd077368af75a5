"""URLs shared by every page of an envelope: the recipient link, page images, downloads."""

from django.urls import URLPattern, path

from qianshu.envelopes.views import check, detail, documents, link

urlpatterns: list[URLPattern] = [
    path("s/<str:token>/", link.link_view, name="link"),
    path("check/<uuid:envelope_uuid>/", check.check_view, name="check"),
    path("envelopes/<uuid:envelope_uuid>/", detail.detail_view, name="detail"),
    path("envelopes/<uuid:envelope_uuid>/recall/", detail.recall_view, name="recall"),
    path("envelopes/<uuid:envelope_uuid>/remind/", detail.remind_view, name="remind"),
    path("envelopes/<uuid:envelope_uuid>/void/", detail.void_view, name="void"),
    path(
        "envelopes/<uuid:envelope_uuid>/documents/<int:document_id>/pages/<int:page>.png",
        documents.page_image_view,
        name="page-image",
    ),
    path(
        "envelopes/<uuid:envelope_uuid>/documents/<int:document_id>/download/",
        documents.download_view,
        name="download",
    ),
    path("envelopes/<uuid:envelope_uuid>/report.pdf", documents.report_view, name="report"),
]
