import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qianshu.settings")
application = get_asgi_application()

from qianshu.warmup import warm_up_in_background  # noqa: E402 - needs the apps loaded above

warm_up_in_background()
