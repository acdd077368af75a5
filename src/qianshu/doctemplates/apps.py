from django.apps import AppConfig


class DocTemplatesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "qianshu.doctemplates"
    label = "doctemplates"
    verbose_name = "Templates"
