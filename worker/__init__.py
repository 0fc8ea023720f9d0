"""The worker: configuration, agent instructions and session assembly for `agent.py`."""

from .config import ConfigError, Secret, Settings, load_settings, missing_for_mode
from .prompts import PromptError, available_prompts, load_prompt

__all__ = [
    "ConfigError",
    "PromptError",
    "Secret",
    "Settings",
    "available_prompts",
    "load_prompt",
    "load_settings",
    "missing_for_mode",
]
