"""Agent instructions live in prompts/ as plain text files, loaded by name."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

PROMPTS_DIR: Final = Path(__file__).resolve().parent.parent / "prompts"
_NAME_RE: Final = re.compile(r"^[a-z0-9_\-]+$")


class PromptError(ValueError):
    """A prompt name is invalid or its file is missing or empty."""


def available_prompts(directory: Path = PROMPTS_DIR) -> list[str]:
    """Names (file stems) of the prompts in `directory`, sorted."""
    return sorted(p.stem for p in directory.glob("*.txt"))


def load_prompt(name: str, *, directory: Path = PROMPTS_DIR, **values: str) -> str:
    """The text of `directory/<name>.txt` with `{placeholders}` filled from `values`.

    Raises `PromptError` for a name that is not a plain file stem, a missing or empty file,
    or a placeholder without a value.
    """
    if not _NAME_RE.match(name):
        raise PromptError(
            f"prompt name {name!r} must use only a-z, 0-9, '_' and '-' (a file stem in prompts/)"
        )
    path = directory / f"{name}.txt"
    if not path.is_file():
        known = ", ".join(available_prompts(directory)) or "none"
        raise PromptError(f"no prompt file {path} (available: {known})")
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        raise PromptError(f"prompt file {path} is empty")
    try:
        return text.format(**values) if values or "{" in text else text
    except KeyError as e:
        raise PromptError(f"prompt {name!r} needs a value for {{{e.args[0]}}}") from None
