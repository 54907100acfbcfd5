# One image for every Beacon process (web, worker, beat, ingest, smtp); see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 beacon
WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY --chown=beacon:beacon . .
# Settings refuse to start without a real key when DEBUG is off; this one only exists while
# collectstatic runs at build time and is not in the final environment.
RUN SECRET_KEY=collectstatic-at-build-time DEBUG=0 python manage.py collectstatic --noinput \
    && mkdir -p /app/media /app/var/tracking-spill \
    && chown -R beacon:beacon /app/staticfiles /app/media /app/var

USER beacon
EXPOSE 8000 2525
CMD ["granian", "--interface", "asgi", "--host", "0.0.0.0", "--port", "8000", \
     "--workers", "2", "config.asgi:application"]
