from django.urls import path

from mis import views

urlpatterns = [
    path("", views.contract_list, name="contracts"),
    path("contracts/new/", views.contract_new, name="contract-new"),
    path("contracts/<int:pk>/", views.contract_detail, name="contract"),
    path("contracts/<int:pk>/approve/", views.contract_approve, name="contract-approve"),
    path("contracts/<int:pk>/files/<str:kind>/", views.contract_file, name="contract-file"),
    path("integration/", views.integration, name="integration"),
    path("webhooks/qianshu/", views.webhook, name="webhook"),
]
