# syntax=docker/dockerfile:1
# Multi-stage build: dependencies and models are installed in the builder, the runtime
# image only copies the virtual environment and the code, and runs as a non-root user.

FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
RUN mkdir -p /root/.cache
COPY requirements.lock pyproject.toml README.md ./
RUN python -m venv /opt/venv && /opt/venv/bin/pip install -r requirements.lock
COPY agent.py ./
COPY worker ./worker
COPY plugins ./plugins
COPY prompts ./prompts
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation .
# Bake every model in at build time: the Silero and end-of-turn models ship inside their
# wheels, our plugins' weights inside plugins/; download-files fetches anything a
# livekit plugin still needs, so the container never reaches a model hub at start.
RUN /opt/venv/bin/python agent.py download-files

FROM python:3.11-slim AS runtime
RUN useradd --create-home --uid 10001 agent
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY --from=builder --chown=agent:agent /app /app
COPY --from=builder --chown=agent:agent /root/.cache /home/agent/.cache
USER agent
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
CMD ["python", "agent.py", "start"]
