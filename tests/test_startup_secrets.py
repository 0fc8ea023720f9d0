"""The worker's real start-up against an unreachable server: it never writes a secret to its
logs, and when it gives up connecting it exits non-zero with one line saying why."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from worker.reliability import (
    EXIT_WORKER_FAILED,
    failure_line,
    worker_exit_code,
)

RunAgent = Callable[..., subprocess.CompletedProcess[str]]  # the `run_agent` fixture
FAKE = {
    "LIVEKIT_API_KEY": "APIfakeKeyQ7Z3",
    "LIVEKIT_API_SECRET": "fake-secret-9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    "DEEPGRAM_API_KEY": "dg-fake-5c0ffee5c0ffee",
    "OPENAI_API_KEY": "sk-fake-deadbeefdeadbeef",
}
# The worker gets as far as loading models in its job processes and trying to register
# with the (unreachable) server; that is the whole start-up path that could log a key.
STARTED_MARKERS = ("prewarm: models loaded", "failed to connect")
START_TIMEOUT_S = 60.0


def test_startup_logs_contain_no_secret(worker_app: Path, tmp_path: Path) -> None:
    # Half of the secrets come from .env, half from the environment: both paths are covered.
    (worker_app / ".env").write_text(
        f"LIVEKIT_API_SECRET={FAKE['LIVEKIT_API_SECRET']}\n"
        f"OPENAI_API_KEY={FAKE['OPENAI_API_KEY']}\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in FAKE}
    env.update(
        LIVEKIT_URL="ws://127.0.0.1:9",
        LIVEKIT_API_KEY=FAKE["LIVEKIT_API_KEY"],
        DEEPGRAM_API_KEY=FAKE["DEEPGRAM_API_KEY"],
        LOG_LEVEL="DEBUG",
    )
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, str(worker_app / "agent.py"), "start", "--log-level", "DEBUG"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline:
                text = log_path.read_text()
                if all(marker in text for marker in STARTED_MARKERS):
                    break
                if proc.poll() is not None:
                    break
                time.sleep(0.2)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    text = log_path.read_text()
    for marker in STARTED_MARKERS:
        assert marker in text, f"worker did not reach {marker!r}:\n{text[-2000:]}"
    for name, value in FAKE.items():
        assert value not in text, f"{name} leaked into the worker's logs"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local TCP port bound but not listening, so connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


GIVE_UP_TIMEOUT_S = 60.0
"""With no retry, giving up takes the worker's start-up and one refused connection."""


@pytest.mark.parametrize("mode", ["start", "dev", "connect"])
def test_worker_that_gives_up_on_the_server_exits_1_with_one_line(
    mode: str, closed_port: int, run_agent: RunAgent
) -> None:
    url = f"ws://127.0.0.1:{closed_port}"
    env = {**FAKE, "LIVEKIT_URL": url, "MAX_CONNECT_RETRIES": "0"}
    args = [mode, "--room", "test-room"] if mode == "connect" else [mode]
    result = run_agent(args, env, timeout_s=GIVE_UP_TIMEOUT_S)
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_WORKER_FAILED, output[-3000:]
    stopped = [line for line in output.splitlines() if "worker stopped:" in line]
    assert len(stopped) == 1, output[-3000:]
    assert url in stopped[0]
    assert "deprecat" not in output.lower()


def test_worker_stopped_by_sigterm_while_retrying_exits_0(
    worker_app: Path, closed_port: int, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in FAKE}
    env.update(FAKE, LIVEKIT_URL=f"ws://127.0.0.1:{closed_port}")
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, str(worker_app / "agent.py"), "dev"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while "retrying in" not in log_path.read_text() and proc.poll() is None:
                assert time.monotonic() < deadline, log_path.read_text()[-2000:]
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=START_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log_path.read_text()
    assert code == 0, text[-2000:]
    assert "worker stopped:" not in text


def test_a_stop_on_request_exits_0_and_a_failure_exits_1() -> None:
    gave_up = RuntimeError("failed to connect to livekit after 16 attempts")
    assert worker_exit_code(None) == 0
    assert worker_exit_code(gave_up) == EXIT_WORKER_FAILED == 1
    assert worker_exit_code(OSError("address in use")) == 1
    line = failure_line(gave_up, url="ws://127.0.0.1:7880")
    assert "\n" not in line
    assert "failed to connect to livekit after 16 attempts" in line
    assert "LIVEKIT_URL=ws://127.0.0.1:7880" in line
    assert "LIVEKIT_URL=unset" in failure_line(ValueError(), url="")
