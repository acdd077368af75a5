from django.apps import AppConfig


class MisConfig(AppConfig):
    name = "mis"
    verbose_name = "采购管理系统"
