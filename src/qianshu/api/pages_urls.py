from django.urls import path

from qianshu.api import views

app_name = "api-pages"
urlpatterns = [path("<uuid:org_uuid>/api-keys/", views.api_keys_view, name="keys")]
