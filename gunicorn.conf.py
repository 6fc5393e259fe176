"""Gunicorn settings for production: `gunicorn billing_admin.wsgi` (this file is read from the
working directory). Every knob comes from the environment; see README "Running in production"."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Processes x threads = requests served at once. Most of a request's time is spent waiting for
# the billing backend, so threads (gthread workers) keep the CPU busy while others wait; measured
# with bench/load.py: 2 workers x 4 threads meet the latency targets on 2 cores where 2 x 1 queue.
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Must exceed the slowest legitimate request: a backend call can take
# BACKEND_CONNECT_TIMEOUT + BACKEND_READ_TIMEOUT per attempt, plus read retries.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle workers now and then (bounded memory growth); jitter avoids all restarting at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "200"))
# Proxies allowed to set X-Forwarded-* (comma-separated IPs; "*" trusts any).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# The app logs one structured line per request (with its request id) itself; gunicorn's own
# access log is off by default to avoid writing every request twice.
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# The application is loaded in each worker after fork: no database connection or HTTP client is
# shared between processes.
preload_app = False
