"""Shared fixtures."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LIVEKIT_AND_PROVIDER_VARS = (
    "LIVEKIT_URL",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
    "DEEPGRAM_API_KEY",
    "OPENAI_API_KEY",
)

RunAgent = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def worker_app(tmp_path: Path) -> Path:
    """A copy of the worker app (agent.py, worker/, prompts/) in its own folder, returned as
    the folder. The worker reads the `.env` next to agent.py: a copy keeps a developer's own
    `.env` out of the test and lets the test write one."""
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy2(REPO / "agent.py", app / "agent.py")
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("worker", "prompts"):
        shutil.copytree(REPO / folder, app / folder, ignore=ignore)
    return app


@pytest.fixture
def run_agent(worker_app: Path, tmp_path: Path) -> RunAgent:
    """Run the copied agent.py with `args` from another working directory (`cwd`, default a
    fresh folder), with the LiveKit and provider variables removed from the environment and
    `env` added; returns the finished process (text output)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def run(
        args: list[str],
        env: Mapping[str, str] | None = None,
        *,
        cwd: Path | None = None,
        timeout_s: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if k not in LIVEKIT_AND_PROVIDER_VARS}
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, str(worker_app / "agent.py"), *args],
            cwd=cwd or elsewhere,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    return run
