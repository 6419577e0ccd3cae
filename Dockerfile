# The streetlight service image (used by compose.yaml).

# The web console's browser libraries (map, charts): npm packages at the versions pinned in
# api/console/package-lock.json, installed at build time and served by the app itself.
FROM python:3.11-slim AS console-assets
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY api/console/package.json api/console/package-lock.json ./
# As scripts/console-assets: no peer packages (ReDoc's bundle carries its own) and no install
# scripts (one of Swagger UI's dependencies would report the install to a third party).
RUN npm ci --omit=dev --omit=peer --ignore-scripts --no-audit --no-fund

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . .
# Before pip install: the libraries are package data of api.console (see pyproject.toml).
COPY --from=console-assets /build/node_modules api/console/node_modules
RUN pip install . \
    && useradd --system --no-create-home --home-dir /app --shell /usr/sbin/nologin streetlight

USER streetlight
EXPOSE 8000
# Configuration comes from the environment: STREETLIGHT_DATABASE_URL, STREETLIGHT_MQTT_URL,
# STREETLIGHT_MQTT_USERNAME, STREETLIGHT_MQTT_PASSWORD (see compose.yaml).
CMD ["streetlight", "serve"]
