from django.urls import path

from qianshu.webhooks import views

app_name = "webhooks"
urlpatterns = [
    path("<uuid:org_uuid>/webhooks/", views.endpoints_view, name="list"),
    path("<uuid:org_uuid>/webhooks/<uuid:endpoint_uuid>/", views.endpoint_view, name="detail"),
]
