from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("pki/", include("qianshu.pki.urls")),
    path("verify/", include("qianshu.verification.urls")),
]
