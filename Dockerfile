# Newswatch in one container: the long-lived service (polls + daily digest).
#   docker build -t newswatch .
#   docker run -v "$PWD/config:/app/config" -v "$PWD/output:/output" -v newswatch-data:/data newswatch
# or simply `docker compose up -d` (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed unprivileged user; uid 1000 is the first user on most Linux hosts, so
# digests written to a bind-mounted ./output belong to that user.
RUN groupadd --gid 1000 newswatch \
    && useradd --uid 1000 --gid 1000 --create-home --shell /usr/sbin/nologin newswatch \
    && mkdir -p /app /data /output \
    && chown newswatch:newswatch /app /data /output

WORKDIR /app
USER 1000:1000

# Dependencies first, so editing code or config does not reinstall them: the
# editable install only needs the project metadata and the package folders.
COPY --chown=newswatch:newswatch pyproject.toml README.md ./
COPY --chown=newswatch:newswatch pipeline/__init__.py pipeline/
COPY --chown=newswatch:newswatch storage/__init__.py storage/
# The README's install lines, exactly (tests/test_container.py checks them).
RUN python3 -m venv .venv && .venv/bin/pip install -e .

COPY --chown=newswatch:newswatch pipeline/ pipeline/
COPY --chown=newswatch:newswatch storage/ storage/
COPY --chown=newswatch:newswatch seeds/ seeds/
# The default config; mount your own folder over /app/config to edit it live.
COPY --chown=newswatch:newswatch config/ config/

ENV DATABASE_URL=sqlite:////data/newswatch.db NEWSWATCH_OUTPUT_DIR=/output
VOLUME ["/data", "/output"]
# The reading room, when NEWSWATCH_WEB_PORT (or web.port) is set (see docker-compose.yml)
EXPOSE 8080

# Exec form everywhere: newswatch is PID 1 and gets SIGTERM itself; it finishes
# the items in flight, commits them and exits 0 well within Docker's 10 s.
STOPSIGNAL SIGTERM
# Healthy while the last cycle finished within 2 x poll_interval; the first
# cycle over every feed may take minutes, hence the start period.
HEALTHCHECK --interval=2m --timeout=30s --start-period=10m --retries=3 \
    CMD ["/app/.venv/bin/newswatch", "health", "--config", "/app/config/watch.yaml"]
CMD ["/app/.venv/bin/newswatch", "run", "--config", "/app/config/watch.yaml"]
