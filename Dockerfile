FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# Hash-pinned packages only, the build tools first: every build after them uses them rather than
# an unpinned setuptools fetched for a package published only as source.
COPY requirements/build.txt requirements/runtime.txt ./requirements/
RUN pip install --require-hashes -r requirements/build.txt \
    && pip install --require-hashes --no-build-isolation -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY registry ./registry
COPY api ./api
COPY search ./search
COPY admin ./admin
COPY config ./config
COPY migrations ./migrations
RUN pip install --no-deps --no-build-isolation . && useradd --system --uid 10001 creditreg
USER creditreg
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "registry.wsgi:app"]
