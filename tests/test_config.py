"""Configuration: one home for every setting, clear errors, secrets never printed."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import pytest

from worker.config import (
    DOTENV_PATH,
    ConfigError,
    Secret,
    Settings,
    load_settings,
    missing_for_mode,
    missing_message,
)

REPO = Path(__file__).resolve().parent.parent
RunAgent = Callable[..., subprocess.CompletedProcess[str]]  # the `run_agent` fixture
ALL_KEYS = {
    "LIVEKIT_URL": "wss://example.invalid",
    "LIVEKIT_API_KEY": "APIfakekey123",
    "LIVEKIT_API_SECRET": "fake-secret-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "DEEPGRAM_API_KEY": "dg-fake-0123456789",
    "OPENAI_API_KEY": "sk-fake-0123456789",
}


def test_defaults_are_valid_and_offline_modes_need_nothing() -> None:
    settings = load_settings({}, dotenv_path=Path("/nonexistent/.env"))
    assert settings == Settings()
    assert missing_for_mode(settings, "simulate") == []
    assert missing_for_mode(settings, "download-files") == []
    assert missing_for_mode(settings, "start") == list(ALL_KEYS)
    assert missing_for_mode(settings, "console") == ["DEEPGRAM_API_KEY", "OPENAI_API_KEY"]


def test_patience_default_and_range_are_the_plugins() -> None:
    from livekit.plugins.turntaking.endpointing import model

    from worker import config

    assert config.DEFAULT_PATIENCE == model.DEFAULT_THRESHOLD
    assert (config.MIN_PATIENCE, config.MAX_PATIENCE) == (model.MIN_PATIENCE, model.MAX_PATIENCE)
    assert load_settings({"ENDPOINTING_PATIENCE": "0.9"}).endpointing_patience == 0.9


def test_duck_and_output_lead_defaults_and_ranges_are_the_plugins() -> None:
    from livekit.plugins.turntaking.arbiter import arbiter, playout

    from worker import config

    assert config.DEFAULT_DUCK_DB == arbiter.DEFAULT_DUCK_DB
    assert (config.MIN_DUCK_DB, config.MAX_DUCK_DB) == (arbiter.MIN_DUCK_DB, arbiter.MAX_DUCK_DB)
    assert config.DEFAULT_OUTPUT_LEAD_MS / 1000 == playout.DEFAULT_OUTPUT_LEAD_S
    assert config.MIN_OUTPUT_LEAD_MS / 1000 == playout.MIN_OUTPUT_LEAD_S
    assert config.MAX_OUTPUT_LEAD_MS / 1000 == playout.MAX_OUTPUT_LEAD_S
    off = load_settings({"ARBITER_DUCK_DB": "0", "OUTPUT_LEAD_MS": "0"})
    assert (off.arbiter_duck_db, off.output_lead_ms) == (0, 0)


def test_environment_overrides_dotenv(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("OPENAI_API_KEY=from-file\nLOAD_THRESHOLD=0.5\nAGENT_NAME=file-name\n")
    settings = load_settings({"AGENT_NAME": "env-name"}, dotenv_path=env_file)
    assert settings.openai_api_key.get() == "from-file"
    assert settings.load_threshold == 0.5
    assert settings.agent_name == "env-name"


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("LOAD_THRESHOLD", "1.5", "(0, 1]"),
        ("LOAD_THRESHOLD", "high", "must be a number"),
        ("INPUT_SAMPLE_RATE_HZ", "96000", "[8000, 48000]"),
        ("INPUT_FRAME_MS", "5", "[10, 100]"),
        ("INTERRUPTION_MODE", "cloud", "arbiter, vad"),
        ("ENDPOINTING_MODE", "magic", "adaptive, livekit"),
        ("USER_AWAY_TIMEOUT_S", "0", "[1, 600]"),
        ("ENDPOINTING_PATIENCE", "1.0", "[0.3, 0.995]"),
        ("ENDPOINTING_PATIENCE", "patient", "must be a number"),
        ("ARBITER_DUCK_DB", "5", "0 (off) or in [10.0, 40.0]"),
        ("OUTPUT_LEAD_MS", "20", "0 (off) or in [60, 2000]"),
        ("MAX_CONNECT_RETRIES", "-1", "[0, 100]"),
        ("LOG_LEVEL", "verbose", "DEBUG, INFO"),
    ],
)
def test_invalid_values_name_the_variable_and_range(name: str, value: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({name: value}, dotenv_path=Path("/nonexistent/.env"))
    assert name in str(err.value)
    assert needle in str(err.value)


def test_secrets_never_show_in_repr() -> None:
    settings = load_settings(ALL_KEYS, dotenv_path=Path("/nonexistent/.env"))
    text = repr(settings) + str(settings)
    for name in ("LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "DEEPGRAM_API_KEY", "OPENAI_API_KEY"):
        assert ALL_KEYS[name] not in text
    assert repr(Secret("x")) == "Secret('***')"


def test_missing_message_is_one_line_naming_each_variable() -> None:
    line = missing_message(["DEEPGRAM_API_KEY", "OPENAI_API_KEY"], "console")
    assert "\n" not in line
    assert "DEEPGRAM_API_KEY" in line and "OPENAI_API_KEY" in line and ".env" in line


@pytest.mark.parametrize("mode", ["start", "dev", "console", "connect"])
def test_worker_exits_2_with_one_line_when_keys_missing(mode: str, run_agent: RunAgent) -> None:
    result = run_agent([mode, "--room", "r"] if mode == "connect" else [mode])
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "OPENAI_API_KEY" in lines[0] and "DEEPGRAM_API_KEY" in lines[0]
    if mode != "console":
        assert "LIVEKIT_URL" in lines[0] and "LIVEKIT_API_SECRET" in lines[0]


def test_worker_reports_only_the_missing_variable(run_agent: RunAgent) -> None:
    keys = dict(ALL_KEYS)
    del keys["OPENAI_API_KEY"]
    result = run_agent(["start"], keys)
    assert result.returncode == 2
    assert "OPENAI_API_KEY" in result.stderr
    for name in keys:
        assert f"{name} (" not in result.stderr
    for value in keys.values():
        assert value not in result.stderr and value not in result.stdout


def test_default_dotenv_is_next_to_agent_py() -> None:
    assert DOTENV_PATH == REPO / ".env"
    assert (DOTENV_PATH.parent / "agent.py").is_file()


def test_worker_reads_the_dotenv_next_to_agent_py_from_another_directory(
    worker_app: Path, run_agent: RunAgent, tmp_path: Path
) -> None:
    # the app's .env has every key but LIVEKIT_URL and an invalid LOAD_THRESHOLD that the
    # environment overrides; the working directory's .env (never read) has the URL
    lines = [f"{k}={v}\n" for k, v in ALL_KEYS.items() if k != "LIVEKIT_URL"]
    (worker_app / ".env").write_text("".join(lines) + "LOAD_THRESHOLD=7\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / ".env").write_text(f"LIVEKIT_URL={ALL_KEYS['LIVEKIT_URL']}\n")
    result = run_agent(["start"], {"LOAD_THRESHOLD": "0.5"}, cwd=cwd)
    assert result.returncode == 2, result.stderr
    assert "LIVEKIT_URL (" in result.stderr
    assert "OPENAI_API_KEY" not in result.stderr and "LOAD_THRESHOLD" not in result.stderr


def test_invalid_setting_is_a_one_line_error(run_agent: RunAgent) -> None:
    result = run_agent(["start"], {**ALL_KEYS, "LOAD_THRESHOLD": "7"})
    assert result.returncode == 2
    assert "LOAD_THRESHOLD" in result.stderr and "Traceback" not in result.stderr


MODES = ("start", "dev", "connect", "console", "download-files", "simulate")


def test_help_lists_every_mode_without_any_setting(run_agent: RunAgent) -> None:
    result = run_agent(["--help"])
    assert result.returncode == 0, result.stderr
    for mode in MODES:
        assert f"    {mode}" in result.stdout, mode
    assert "error" not in result.stderr


@pytest.mark.parametrize("mode", MODES[:-1])
def test_each_mode_prints_its_help_without_any_setting(mode: str, run_agent: RunAgent) -> None:
    result = run_agent([mode, "--help"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: agent.py {mode}")
    assert result.stderr == ""


def test_no_mode_is_a_usage_error(run_agent: RunAgent) -> None:
    result = run_agent([])
    assert result.returncode == 2
    assert "MODE" in result.stderr and "Traceback" not in result.stderr


def test_download_files_needs_no_setting_and_prints_no_deprecation(run_agent: RunAgent) -> None:
    result = run_agent(["download-files"])
    assert result.returncode == 0, result.stderr
    assert "downloading files for livekit.plugins.turntaking" in result.stdout
    assert "deprecat" not in (result.stdout + result.stderr).lower()


def test_env_example_lists_every_setting() -> None:
    example = (REPO / ".env.example").read_text()
    for f in fields(Settings):
        assert f"{f.name.upper()}=" in example, f.name
