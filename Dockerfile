# The streetlight service image (used by compose.yaml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . .
RUN pip install . \
    && useradd --system --no-create-home --home-dir /app --shell /usr/sbin/nologin streetlight

USER streetlight
EXPOSE 8000
# Configuration comes from the environment: STREETLIGHT_DATABASE_URL, STREETLIGHT_MQTT_URL,
# STREETLIGHT_MQTT_USERNAME, STREETLIGHT_MQTT_PASSWORD (see compose.yaml).
CMD ["streetlight", "serve"]
