"""URLs of envelopes (mounted at the site root: ``/envelopes/…`` and the short ``/s/<token>/``)."""

from qianshu.envelopes import compose_urls, detail_urls, list_urls, sign_urls

app_name = "envelopes"

urlpatterns = [
    *list_urls.urlpatterns,
    *compose_urls.urlpatterns,
    *detail_urls.urlpatterns,
    *sign_urls.urlpatterns,
]
