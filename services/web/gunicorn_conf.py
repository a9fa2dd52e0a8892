"""gunicorn settings for the web app (how production runs it, and what bench/api.py measures).

    gunicorn --config python:services.web.gunicorn_conf services.web.wsgi:app

Read by gunicorn as a config module (plain assignments). Each can be overridden with an
environment variable:

- SAFEGUARD_WEB_BIND: address to listen on. Default: 0.0.0.0:8000.
- SAFEGUARD_WEB_WORKERS: worker processes. Default: 2 per CPU core.
- SAFEGUARD_WEB_WORKER_CLASS: `sync` or `gthread`. Default: sync.
- SAFEGUARD_WEB_THREADS: threads per gthread worker. Default: 1.
- SAFEGUARD_WEB_KEEPALIVE: seconds a gthread worker keeps an idle connection. Default: 2.

Why sync workers by default: a task completion is CPU work under the GIL, so threads in one
process add no throughput, and with keep-alive a gthread worker keeps every connection it
accepted, so a few busy clients land on one process while the others idle (measured: one
worker took all 4 keep-alive clients of bench/api.py). A sync worker takes one request at a
time and closes the connection after it, so each request goes to whichever process is free
and every core works. Behind a proxy (nginx, a load balancer) slow clients do not hold a sync
worker; the proxy keeps the keep-alive connections to browsers.
"""

from __future__ import annotations

import os

_PREFIX = "SAFEGUARD_WEB_"


def _setting(name: str, default: str) -> str:
    return os.environ.get(_PREFIX + name, default)


bind = _setting("BIND", "0.0.0.0:8000")
workers = int(_setting("WORKERS", str(2 * (os.cpu_count() or 1))))
worker_class = _setting("WORKER_CLASS", "sync")
threads = int(_setting("THREADS", "1"))
keepalive = int(_setting("KEEPALIVE", "2"))
