"""Agent instructions are text files in prompts/, loaded by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.prompts import PromptError, available_prompts, load_prompt


def test_shipped_prompts_load_and_carry_the_persona() -> None:
    assert {"voice_persona", "user_away", "phone_caller"} <= set(available_prompts())
    persona = " ".join(load_prompt("voice_persona").split())
    assert "short sentences" in persona
    assert "is that right?" in persona
    assert "Sorry, could you repeat that?" in persona
    assert "still there" in load_prompt("user_away")


def test_placeholders_are_filled() -> None:
    text = load_prompt("phone_caller", phone_number="+14155550123")
    assert "+14155550123" in text and "{" not in text


def test_missing_placeholder_is_an_error() -> None:
    with pytest.raises(PromptError, match="phone_number"):
        load_prompt("phone_caller")


def test_missing_prompt_names_the_file_and_the_choices(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    with pytest.raises(PromptError, match=r"b\.txt.*available: a"):
        load_prompt("b", directory=tmp_path)


@pytest.mark.parametrize("name", ["../secrets", "Voice Persona", ""])
def test_names_must_be_plain_stems(name: str) -> None:
    with pytest.raises(PromptError, match="file stem"):
        load_prompt(name)


def test_empty_prompt_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(PromptError, match="empty"):
        load_prompt("empty", directory=tmp_path)
