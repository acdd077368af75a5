from qianshu.orgs import grant_urls, member_urls, seal_urls, verification_urls

app_name = "orgs"

urlpatterns = [
    *member_urls.urlpatterns,
    *verification_urls.urlpatterns,
    *seal_urls.urlpatterns,
    *grant_urls.urlpatterns,
]
