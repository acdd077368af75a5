from django.contrib import admin
from django.urls import include, path

from qianshu.api.api import api
from qianshu.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("help/", core_views.help_view, name="help"),
    path("privacy/", core_views.privacy_view, name="privacy"),
    path("", include("qianshu.accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("pki/", include("qianshu.pki.urls")),
    path("verify/", include("qianshu.verification.urls")),
    path("dev/outbox/", include("qianshu.notifications.urls")),
    path("me/identity/", include("qianshu.identity.urls")),
    path("backoffice/", include("qianshu.backoffice.urls")),
    path("orgs/", include("qianshu.orgs.urls")),
    path("orgs/", include("qianshu.webhooks.urls")),
    path("orgs/", include("qianshu.api.pages_urls")),
    path("templates/", include("qianshu.doctemplates.urls")),
    path("employment/", include("qianshu.employment.urls")),
    path("", include("qianshu.envelopes.urls")),
]
