# syntax=docker/dockerfile:1
# ccin-bridge in a container: `docker compose up -d` with compose.yaml (README, "Deploying"),
# or `docker run -e TELEGRAM_BOT_TOKEN_FILE=... -v ccin-data:/data ccin-bridge` on SQLite.

# The wheel, and wheels of everything it needs, built where pip may fetch and compile.
FROM python:3.11-slim AS builder
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bridge bridge
COPY bots bots
COPY handlers handlers
COPY store store
COPY scheduler scheduler
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Installed from those wheels alone: no compiler, no build files, no pip cache in the image.
FROM python:3.11-slim
LABEL org.opencontainers.image.title="ccin-bridge" \
      org.opencontainers.image.description="Chat-bot bridge for the Co-operative Councils' Innovation Network" \
      org.opencontainers.image.licenses="MIT"
RUN groupadd --system --gid 10001 ccin \
    && useradd --system --uid 10001 --gid ccin --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin ccin \
    && mkdir /data && chown ccin:ccin /data && chmod 0700 /data
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels ccin-bridge
# Data (the SQLite database when DATABASE_URL is unset, downloads) in the volume; the HTTP
# listener (/healthz, /readyz, /metrics) and Slack's HTTP endpoint reachable from outside the
# container; logs unbuffered to the container's output.
ENV CCIN_BRIDGE_DATA_DIR=/data \
    CCIN_BRIDGE_HTTP__HOST=0.0.0.0 \
    CCIN_BRIDGE_SLACK_HTTP__HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /data
VOLUME /data
USER 10001:10001
# 8080: health and metrics; 3000: Slack's HTTP mode; 8443: Telegram's webhook mode
# (with `run --telegram-listen 0.0.0.0:8443`).
EXPOSE 8080 3000 8443
# slim has no curl: Python's urllib, which fails (exit 1) on anything but a 2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.urlopen('http://127.0.0.1:' + os.environ.get('CCIN_BRIDGE_HTTP__PORT', '8080') + '/healthz', timeout=4)"]
ENTRYPOINT ["ccin-bridge"]
CMD ["run"]
