"""gunicorn settings for the web app (how production runs it, and what bench/api.py measures).

    gunicorn --config python:services.web.gunicorn_conf services.web.wsgi:app

Read by gunicorn as a config module (plain assignments). Each can be overridden with an
environment variable:

- SAFEGUARD_WEB_BIND: address to listen on. Default: 0.0.0.0:8000.
- SAFEGUARD_WEB_WORKERS: worker processes. Default: 2.
- SAFEGUARD_WEB_WORKER_CLASS: `gthread` or `sync`. Default: gthread.
- SAFEGUARD_WEB_THREADS: threads per gthread worker. Default: 4.
- SAFEGUARD_WEB_KEEPALIVE: seconds a gthread worker keeps an idle connection. Default: 0.

Why no keep-alive: a gthread worker keeps every connection it accepted, so a few busy
keep-alive clients all land on the first worker to wake, and one process (one GIL) does all
the work while the others idle. Measured with bench/api.py, 4 clients, on the shared 2-core
machine (2026-12-03, quiet, two runs each): keep-alive 10 s put the CPU on one worker (8.3 s
against 0.04 s) and completed 112 and 95/s on SQLite, 59 and 60/s on PostgreSQL (p95
115-130 ms); keep-alive 0 spread it evenly (6.2 s and 6.2 s) and completed 143 and 140/s on
SQLite, 77 and 75/s on PostgreSQL (p95 72-91 ms). Sync workers (4) left the CPU on one worker
too (the worker that just answered wins the next accept) and did no better than gthread with
keep-alive. A new connection per request costs little on a local network or behind a proxy;
behind a proxy, keep-alive lives at the proxy.
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
keepalive = int(_setting("KEEPALIVE", "0"))
