# One image for every process of the production topology (web, relay, notifier, scheduler,
# worker, init); docker-compose.yml picks the command. Build: `docker build -t safeguard-flow .`

# GOV.UK Frontend's CSS, JS, fonts and icons, copied from npm as `make` does.
FROM node:20-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
# The studio's modeller (camunda-bpmn-js, dmn-js) and other bundles: esbuild, frontend/entries/*.js.
COPY frontend frontend
RUN npm run --silent build:assets

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SAFEGUARD_BPMN_DIR=/app/bpmn \
    SAFEGUARD_INSTANCE_DIR=/app/instance
WORKDIR /app
# WeasyPrint (the tagged record PDF) draws text with Pango, in DejaVu Sans.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 safeguard
COPY pyproject.toml README.md ./
COPY workflow workflow
COPY forms forms
COPY services services
COPY bpmn bpmn
COPY --from=assets /build/services/web/static/govuk services/web/static/govuk
COPY --from=assets /build/services/web/static/app/build services/web/static/app/build
# Editable: templates and static files are served from /app, where they were copied.
RUN pip install -e . \
    && mkdir -p /app/instance && chown safeguard:safeguard /app/instance
USER safeguard
EXPOSE 8000
CMD ["gunicorn", "--config", "python:services.web.gunicorn_conf", "--access-logfile", "-", "services.web.wsgi:app"]
