FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY registry ./registry
COPY api ./api
COPY search ./search
COPY admin ./admin
COPY config ./config
COPY migrations ./migrations
RUN pip install . && useradd --system --uid 10001 creditreg
USER creditreg
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "registry.wsgi:app"]
