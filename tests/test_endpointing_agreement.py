"""The words + audio agreement rule: the audio end-of-turn model only ever makes a commit
sooner, and only when the words agree (pure logic on literal values)."""

from __future__ import annotations

import pytest
from livekit.plugins.turntaking.endpointing.model import (
    AGREE_DELAY_S,
    AdaptiveEndpointer,
    CompletenessModel,
    SpeakerPauseModel,
    TurnCues,
    agreed_delay_s,
    normalize_words,
    turn_cues,
    words_hold_turn,
)

from tests.test_endpointing_model import PRIOR

PLAIN = TurnCues(trailing_continuer=False, trailing_filler=False, dictation=False)


def _agreed(delay_s: float, p_text: float | None, p_audio: float | None, **kw: object) -> float:
    args: dict[str, object] = {"audio_min": 0.5, "text_min": 0.5, "floor_s": 0.15}
    args.update(kw)
    cues = args.pop("cues", PLAIN)
    assert isinstance(cues, TurnCues)
    return agreed_delay_s(delay_s, p_text, p_audio, cues, **args)  # type: ignore[arg-type]


def test_both_agree_commit_sooner() -> None:
    assert _agreed(1.4, 0.6, 0.7) == AGREE_DELAY_S
    assert _agreed(1.4, 0.5, 0.5) == AGREE_DELAY_S  # thresholds are inclusive


def test_one_voice_alone_changes_nothing() -> None:
    assert _agreed(1.4, 0.49, 0.99) == 1.4  # audio sure, words not
    assert _agreed(1.4, 0.99, 0.49) == 1.4  # words sure, audio not
    assert _agreed(1.4, None, 0.99) == 1.4  # no transcript yet
    assert _agreed(1.4, 0.99, None) == 1.4  # audio not asked (or not answered yet)


def test_it_never_lengthens_a_delay() -> None:
    assert _agreed(0.15, 0.9, 0.9) == 0.15
    for delay in (0.1, 0.2, 0.25, 0.3, 2.5):
        for p_text in (0.1, 0.6):
            for p_audio in (0.1, 0.6):
                assert _agreed(delay, p_text, p_audio) <= delay


def test_a_patient_user_waits_for_the_words() -> None:
    # a patience that asks for a shortest wait past 0.25 s (1.13 s at patience 0.9) turns
    # the shortcut off; up to 0.25 s it is kept
    assert _agreed(2.0, 0.9, 0.9, floor_s=1.13) == 2.0
    assert _agreed(2.0, 0.9, 0.9, floor_s=AGREE_DELAY_S + 0.01) == 2.0
    assert _agreed(2.0, 0.9, 0.9, floor_s=AGREE_DELAY_S) == AGREE_DELAY_S


@pytest.mark.parametrize(
    "text",
    ["I'd like to go to the station and", "so I think um", "my number is four one five"],
)
def test_words_that_hold_the_turn_win(text: str) -> None:
    cues = turn_cues(normalize_words(text), text=text)
    assert words_hold_turn(cues)
    assert _agreed(2.0, 0.9, 0.9, cues=cues) == 2.0


def test_a_whole_phone_number_is_not_held() -> None:
    text = "it's four one five two two three four five six seven"
    cues = turn_cues(normalize_words(text), text=text)
    assert cues.number_complete and not words_hold_turn(cues)
    assert _agreed(0.6, 0.9, 0.9, cues=cues) == AGREE_DELAY_S


def test_endpointer_applies_it_and_reports_it() -> None:
    def pause(audio_agree: float | None, p_audio: float | None) -> tuple[float, bool]:
        ep = AdaptiveEndpointer(
            completeness=CompletenessModel.load(),
            pauses=SpeakerPauseModel(PRIOR),
            threshold=0.95,
            audio_agree_probability=audio_agree,
            text_agree_probability=0.3,
        )
        ep.on_speech_start(0.0)
        ep.on_transcript("Yes, that sounds good to me.", 1.0, is_final=True)
        ep.on_speech_end(1.0)
        if p_audio is not None:
            ep.on_audio_probability(p_audio)
        dec = ep.decision()
        assert dec is not None and dec.commit_at_s == pytest.approx(1.0 + dec.delay_s)
        return dec.delay_s, dec.agreed

    words_only, agreed = pause(0.8, None)
    assert words_only > AGREE_DELAY_S and not agreed
    assert pause(0.8, 0.9) == (AGREE_DELAY_S, True)
    assert pause(0.8, 0.7) == (words_only, False)  # the audio is not sure enough
    assert pause(None, 0.99) == (words_only, False)  # the rule is off


def test_agreement_options_are_validated() -> None:
    for bad in ({"audio_agree_probability": 0.0}, {"text_agree_probability": 1.5}):
        with pytest.raises(ValueError, match=r"must be in \(0, 1\]"):
            AdaptiveEndpointer(completeness=None, pauses=SpeakerPauseModel(PRIOR), **bad)  # type: ignore[arg-type]
