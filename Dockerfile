# syntax=docker/dockerfile:1
#
# One image for every process of the project; the command picks which one runs:
#   API (default)  uvicorn api.app:create_app --factory --host 0.0.0.0 --port 8000
#   worker         python worker.py
#   deploy job     sh -c "ville migrate && ville bootstrap"
# No secret is baked in: everything comes from the environment at run time (see infra/README.md).
#
# Builder and runtime must share the same Python base image: the virtual environment built in the
# first stage links to /usr/local/bin/python3.11 of that image. CI should pin it by digest
# (PYTHON_IMAGE=python:3.11-slim@sha256:...) so that a rebuild of the same commit gives the same image.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder

ARG UV_VERSION=0.13.8
# Bytecode is compiled here because the runtime root filesystem is read-only.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

RUN pip install --no-cache-dir "uv==${UV_VERSION}"

WORKDIR /app

# Third-party dependencies first: this layer is reused until pyproject.toml or uv.lock change.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY . .
RUN uv sync --frozen --no-dev \
    && /app/.venv/bin/python -m compileall -q -j 0 -x '/\.venv/' /app


FROM ${PYTHON_IMAGE} AS runtime

# fonts-dejavu-core: invoice PDFs embed DejaVu because the PDF base fonts cannot print "€".
# Its version follows the base image's Debian release, which the base image tag already pins.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# A fixed numeric uid so that Kubernetes can check runAsNonRoot without reading /etc/passwd.
RUN groupadd --system --gid 10001 ville \
    && useradd --system --uid 10001 --gid 10001 --home-dir /home/ville --create-home \
       --shell /usr/sbin/nologin ville

COPY --from=builder /app /app

# /app/data is the only place the app writes outside /tmp; it is a volume in compose, an emptyDir in k8s.
RUN mkdir -p /app/data && chown 10001:10001 /app/data

# ENV=production by default: a container started without its configuration refuses placeholder
# secrets instead of quietly running with development values.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ENV=production \
    LOG_FORMAT=json \
    DATA_DIR=/app/data

WORKDIR /app
USER 10001:10001

# 8000: API (/healthz, /readyz, /metrics, /codec/*); 9464: worker metrics.
EXPOSE 8000 9464

# No HEALTHCHECK: the same image runs the API, the worker and one-shot jobs, so the check is declared
# per process (compose healthcheck, Kubernetes probes).
CMD ["uvicorn", "api.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", "--no-proxy-headers"]
