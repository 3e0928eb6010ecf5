# One image for the Reflex app (UI + API), the Kafka workers and the Alembic migrations.
# Reflex 0.10 needs Node >= 22.22 (Debian bookworm only ships 18) and bun 1.4.4,
# so node comes from the official image and bun from npm.

FROM node:22-bookworm-slim AS node

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    REFLEX_USE_SYSTEM_BUN=1 \
    REFLEX_TELEMETRY_ENABLED=false

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl unzip \
    && rm -rf /var/lib/apt/lists/*

COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
    && npm install --global bun@1.4.4 \
    && npm cache clean --force \
    && node --version && bun --version

RUN useradd --create-home --uid 10001 --user-group app \
    && install -d -o app -g app /app

WORKDIR /app

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY --chown=app:app . .

USER app

EXPOSE 3000

CMD ["python", "-m", "inventory_app.serve", "--frontend-port", "3000"]
