"""Gunicorn settings of a Qianshu web process (``gunicorn qianshu.wsgi -c deploy/gunicorn.conf.py``).

Web processes are stateless (sessions, rate limits and blobs live in PostgreSQL and S3), so any
number of them, on any number of machines, can stand behind the reverse proxy. Options given on
the command line or in ``GUNICORN_CMD_ARGS`` (``--bind``, ``--workers``) override these.
"""

import multiprocessing

bind = "0.0.0.0:8000"
# Threads rather than many processes: requests mostly wait on PostgreSQL and S3, and each
# process holds the platform's fonts and signing code (about 150-250 MB resident).
worker_class = "gthread"
workers = min(multiprocessing.cpu_count(), 4)
threads = 4
# Signing and sealing through the API, uploads of large PDFs: well within this.
timeout = 120
graceful_timeout = 30
keepalive = 5
# A worker is replaced after this many requests (bounded memory growth), at a random offset
# so that the workers of a machine are not replaced together.
max_requests = 2000
max_requests_jitter = 200
# The reverse proxy (deploy/nginx.conf) sets X-Forwarded-For/-Proto; Django reads them
# (QIANSHU_TRUSTED_PROXY_HOPS, an https QIANSHU_PUBLIC_URL).
forwarded_allow_ips = "*"
accesslog = "-"
errorlog = "-"
