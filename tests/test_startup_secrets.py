"""The worker's real start-up, with known fake secrets, never writes them to its logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
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


def test_startup_logs_contain_no_secret(tmp_path: Path) -> None:
    # Half of the secrets come from .env, half from the environment: both paths are covered.
    (tmp_path / ".env").write_text(
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
            [sys.executable, str(REPO / "agent.py"), "start", "--log-level", "DEBUG"],
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
