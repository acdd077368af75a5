"""URLs of the list pages (included by envelopes/urls.py): 文件管理, 批量签署, 下载."""

from django.urls import URLPattern, path

from qianshu.envelopes.views import lists

urlpatterns: list[URLPattern] = [
    path("envelopes/", lists.list_view, name="list"),
    path("envelopes/batch-sign/", lists.batch_sign_view, name="batch-sign"),
    path("envelopes/batch-sign/result/", lists.batch_result_view, name="batch-result"),
    path("envelopes/download/", lists.download_zip_view, name="download-zip"),
]
