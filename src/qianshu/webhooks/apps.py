from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "qianshu.webhooks"
    verbose_name = "Webhooks"
