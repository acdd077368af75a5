from django.urls import path

from qianshu.pki import views

app_name = "pki"
urlpatterns = [
    path("ca/<str:ca_id>.crt", views.ca_certificate, name="ca-certificate"),
    path("crl/<str:ca_id>.crl", views.crl, name="crl"),
    path("ocsp/<str:ca_id>", views.ocsp, name="ocsp"),
    path("ocsp/<str:ca_id>/<path:encoded>", views.ocsp, name="ocsp-get"),
    path("tsa", views.timestamp, name="tsa"),
    path("cps", views.cps, name="cps"),
]
