"""WSGI entry point (e.g. ``gunicorn mis.wsgi``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mis.settings")
application = get_wsgi_application()
