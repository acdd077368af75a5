from django.urls import path

from qianshu.verification import views

app_name = "verification"
urlpatterns = [
    path("", views.verify_view, name="page"),
    path("report/", views.report_download, name="report"),
]
