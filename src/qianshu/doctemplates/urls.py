"""模板管理 URLs (under /templates/)."""

from django.urls import URLPattern, path

from qianshu.doctemplates import views

app_name = "doctemplates"

urlpatterns: list[URLPattern] = [
    path("", views.list_view, name="list"),
    path("save/<uuid:envelope_uuid>/", views.save_view, name="save"),
    path("<uuid:template_uuid>/", views.detail_view, name="detail"),
    path("<uuid:template_uuid>/use/", views.use_view, name="use"),
    path("<uuid:template_uuid>/archive/", views.archive_view, name="archive"),
    path("<uuid:template_uuid>/bulk/", views.bulk_view, name="bulk"),
    path("<uuid:template_uuid>/bulk.xlsx", views.bulk_xlsx_view, name="bulk-xlsx"),
    path("batches/<uuid:batch_uuid>/", views.batch_view, name="batch"),
    path("batches/<uuid:batch_uuid>/result.xlsx", views.batch_result_view, name="batch-result"),
    path("batches/<uuid:batch_uuid>/download/", views.batch_download_view, name="batch-download"),
]
