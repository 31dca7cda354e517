# Herald's one image: the web server (gunicorn), the Celery worker and Celery beat all run it.
# See docker-compose.yml and docs/running.md.
FROM python:3.11-slim

# The project is installed for its dependencies but runs from /app (PYTHONPATH first): templates/
# and static/ live beside the code, and settings find them relative to config/.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=config.settings

RUN useradd --system --create-home --uid 10001 herald

WORKDIR /app
COPY . .
RUN pip install . \
    && rm -rf build *.egg-info

# Hashed, compressed static files baked into the image (whitenoise serves them), so every web
# container serves the same files. Settings need these variables; nothing connects at build time.
RUN DJANGO_DEBUG=0 \
    DJANGO_SECRET_KEY=collectstatic-at-build-time-only-not-a-real-secret-key-0123456789 \
    DJANGO_ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput

# The code stays root-owned and read-only for the process that serves it.
USER herald
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
