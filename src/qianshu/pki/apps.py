from django.apps import AppConfig


class PkiConfig(AppConfig):
    name = "qianshu.pki"
    label = "pki"
    default_auto_field = "django.db.models.BigAutoField"
