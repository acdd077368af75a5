from django.urls import path

from qianshu.employment.views import common, employer, school, student

app_name = "employment"

urlpatterns = [
    path("", common.home_view, name="home"),
    path("agreements/<uuid:agreement_uuid>/", common.agreement_view, name="agreement"),
    *school.urlpatterns,
    *employer.urlpatterns,
    *student.urlpatterns,
]
