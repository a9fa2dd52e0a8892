"""gunicorn settings for the web app (how production runs it, and what bench/api.py measures).

    gunicorn --config python:services.web.gunicorn_conf services.web.wsgi:app

Read by gunicorn as a config module (plain assignments). Each can be overridden with an
environment variable:

- SAFEGUARD_WEB_BIND: address to listen on. Default: 0.0.0.0:8000.
- SAFEGUARD_WEB_WORKERS: worker processes. Default: 2.
- SAFEGUARD_WEB_WORKER_CLASS: `gthread` or `sync`. Default: gthread.
- SAFEGUARD_WEB_THREADS: threads per gthread worker. Default: 4.
- SAFEGUARD_WEB_KEEPALIVE: seconds a gthread worker keeps an idle connection. Default: 10.

Measured with bench/api.py on the shared 2-core machine (2026-12-03, load 8-9, SQLite):
gthread 2 x 4 with keep-alive put all 4 keep-alive clients on one worker (CPU 6.65 s against
0.08 s) yet completed 24.7/s; sync workers (4, no keep-alive) spread the load evenly (1.73,
1.63, 1.52, 1.48 s) but completed 13.2/s (likely: four processes contend for SQLite's write
lock, whose busy handler sleeps in steps of milliseconds; and every request pays a new
connection). On PostgreSQL, in runs minutes apart, the two were about level. So the
default stays gthread; measure `--worker-class sync --workers 4` on a quiet machine before
changing it. Behind a proxy that spreads requests over workers, keep-alive lives at the proxy.
"""

from __future__ import annotations

import os

_PREFIX = "SAFEGUARD_WEB_"


def _setting(name: str, default: str) -> str:
    return os.environ.get(_PREFIX + name, default)


bind = _setting("BIND", "0.0.0.0:8000")
workers = int(_setting("WORKERS", "2"))
worker_class = _setting("WORKER_CLASS", "gthread")
threads = int(_setting("THREADS", "4"))
keepalive = int(_setting("KEEPALIVE", "10"))
