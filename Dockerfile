# syntax=docker/dockerfile:1
# The production worker: the runtime dependency set (requirements/runtime.lock), the
# turn-taking plugin and the app files (agent.py, worker/, prompts/), nothing else.
#
# Multi-stage: the builder creates the virtual environment in /opt/venv, the runtime stage
# copies it. Both stages use the same base, so the venv's python symlink points at an
# interpreter that exists at run time. Commands use `python3` from the base and then only
# /opt/venv/bin/python, so any Debian-like base with Python 3.11+ works: the public default
# below, or a local one (scripts/image.sh builds one and passes --build-arg BASE=...).
#
# No model is fetched at run time: Silero's ships inside its wheel, the plugin's inside the
# plugin. `agent.py download-files` is not run: none of the installed plugins downloads
# anything (each keeps LiveKit's no-op `download_files`).
#
# Build: docker build -t turntaking-agent .
# Run:   docker run --env-file .env turntaking-agent
ARG BASE=python:3.11-slim

FROM ${BASE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_NO_INPUT=1
RUN python3 -m venv /opt/venv
COPY requirements/runtime.lock /tmp/build/runtime.lock
# An optional build secret `pip_ca` (a CA bundle) is used when present, for builds behind a
# TLS-inspecting proxy; being a secret mount, it never lands in a layer.
RUN --mount=type=secret,id=pip_ca \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi \
    && /opt/venv/bin/python -m pip install --require-hashes --only-binary=:all: \
        -r /tmp/build/runtime.lock
COPY plugins/livekit-plugins-turntaking /tmp/build/livekit-plugins-turntaking
RUN --mount=type=secret,id=pip_ca \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi \
    && /opt/venv/bin/python -m pip install --no-deps /tmp/build/livekit-plugins-turntaking \
    && /opt/venv/bin/python -m pip check

FROM ${BASE} AS runtime
RUN useradd --uid 10001 --user-group --no-log-init --create-home --shell /usr/sbin/nologin agent
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# The code stays owned by root (the worker cannot rewrite it); its bytecode is compiled
# here because the worker cannot write __pycache__ either.
COPY agent.py ./
COPY worker ./worker
COPY prompts ./prompts
RUN /opt/venv/bin/python -m compileall -q /app/worker
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
CMD ["python", "agent.py", "start"]
