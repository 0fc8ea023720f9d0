"""Pure decision logic of the interruption arbiter, on literal timelines."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from livekit.plugins.turntaking.arbiter.echo import EchoVerdict
from livekit.plugins.turntaking.arbiter.model import (
    DUCK_RELEASE_S,
    HASH_DIM,
    ArbiterDecider,
    ArbiterParams,
    ArbiterState,
    AudioFeatures,
    ModelFileError,
    OverlapEvent,
    TextModel,
    VoiceActivity,
    acknowledgement_only,
    frame_features,
    hashed_indices,
    load_params,
    normalize_words,
    text_features,
)

VOICED = AudioFeatures(level_dbfs=-20.0, zcr=0.1, duration_s=0.02)
QUIET = AudioFeatures(level_dbfs=-80.0, zcr=0.5, duration_s=0.02)
PARAMS = ArbiterParams(
    interrupt_threshold=0.8,
    final_threshold=0.5,
    sustained_speech_s=1.0,
    min_voiced_s=0.1,
    short_speech_s=0.3,
    short_threshold=0.85,
    final_wait_s=0.5,
    confirm_audio_stops=False,
    # the audio and interim rules off unless a test turns one on
    quick_audio_threshold=1.0,
    early_threshold=1.0,
    short_audio_threshold=1.0,
    interim_confirm_threshold=0.0,
    # only acknowledgement words resume a pause, whatever the toy model says of the rest
    resume_threshold=0.0,
)


def toy_model() -> TextModel:
    """Hand-set weights: acknowledgement words pull towards backchannel, others push."""
    w = np.zeros(HASH_DIM, dtype=np.float32)
    for word, weight in {
        "yeah": -3.0,
        "uh": -3.0,
        "huh": -3.0,
        "okay": -2.5,
        "wait": 4.0,
        "stop": 3.0,
        "blue": 3.0,
        "no": 2.0,
    }.items():
        w[hashed_indices([f"u:{word}"])[0]] += weight
    return TextModel(w, 0.0)


def voiced_frames(d: ArbiterDecider, start_s: float, n: int) -> list[OverlapEvent]:
    """Push n voiced 20 ms frames starting at start_s; returns the decisions."""
    out = []
    for k in range(n):
        ev = d.push_audio_features(VOICED, round(start_s + 0.02 * (k + 1), 6))
        if ev is not None:
            out.append(ev)
    return out


def state_of(d: ArbiterDecider) -> ArbiterState:
    """The decider's state, read through a call so the checker does not narrow it."""
    return d.state


def test_normalize_words_unifies_acknowledgement_spellings() -> None:
    assert normalize_words("Mm-hmm.") == ["mm", "hmm"]
    assert normalize_words("Uh-huh, OK!") == ["uh", "huh", "okay"]
    assert normalize_words("  ") == []
    # the recogniser writes the corpora's "um" as "Umm..."; a paused "Umm..." resumed nothing
    assert normalize_words("Umm...") == ["um"]
    assert acknowledgement_only(normalize_words("Umm..."))


def test_text_features_include_context_and_length() -> None:
    feats = text_features(["wait", "stop"], ["the", "blue", "one"])
    assert "n:2" in feats and "f:wait" in feats and "b:wait_stop" in feats
    assert "al:one" in feats and "al2:blue_one" in feats


def test_backchannel_keeps_agent_talking_and_is_decided_after_speech_end() -> None:
    d = ArbiterDecider(toy_model(), params=PARAMS)
    d.on_agent_speech("so the next step is to upload the file and then", 0.0)
    assert d.on_user_speech_start(2.0) is None
    assert d.state is ArbiterState.LISTENING
    assert voiced_frames(d, 2.0, 20) == []  # 0.4 s of "uh huh"
    assert d.on_transcript("Uh-huh.", False, 2.45) is None
    assert d.on_user_speech_end(2.7) is None
    ev = d.on_transcript("Uh-huh.", True, 2.9)
    assert ev is not None and ev.label == "backchannel"
    assert state_of(d) is ArbiterState.BACKCHANNEL
    assert ev.decided_at_s == pytest.approx(2.9)
    assert ev.latency_s == pytest.approx(0.9)
    assert ev.probability < 0.1 and ev.word_count == 2


def test_clear_interruption_words_stop_at_once() -> None:
    d = ArbiterDecider(toy_model(), params=PARAMS)
    d.on_agent_speech("the red one is cheaper and", 0.0)
    d.on_user_speech_start(1.0)
    voiced_frames(d, 1.0, 10)
    ev = d.on_transcript("wait", False, 1.3)
    assert ev is not None and ev.label == "interruption" and ev.cues == ("words",)
    assert ev.latency_s == pytest.approx(0.3)
    assert d.state is ArbiterState.INTERRUPTION
    d.on_agent_speech_end(1.5)
    assert state_of(d) is ArbiterState.IDLE


def test_sustained_speech_interrupts_without_words() -> None:
    d = ArbiterDecider(toy_model(), params=PARAMS)
    d.on_agent_speech("let me explain how this works", 0.0)
    d.on_user_speech_start(5.0)
    evs = voiced_frames(d, 5.0, 60)
    assert len(evs) == 1
    ev = evs[0]
    assert ev.label == "interruption" and ev.cues == ("sustained_speech",)
    assert ev.decided_at_s == pytest.approx(6.0)


def test_mere_sound_never_stops_the_agent() -> None:
    d = ArbiterDecider(toy_model(), params=PARAMS)
    d.on_agent_speech("and then we", 0.0)
    d.on_user_speech_start(1.0)
    voiced_frames(d, 1.0, 5)  # a 0.1 s cough
    assert d.on_user_speech_end(1.2) is None
    assert d.tick(1.6) is None  # still waiting for a transcript
    ev = d.tick(1.7)
    assert ev is not None and ev.label == "backchannel" and ev.cues == ("no_words",)


def test_hallucinated_word_on_short_hum_needs_the_high_threshold() -> None:
    d = ArbiterDecider(toy_model(), params=PARAMS)
    d.on_agent_speech("and then we", 0.0)
    d.on_user_speech_start(1.0)
    voiced_frames(d, 1.0, 10)  # 0.2 s < short_speech_s
    d.on_user_speech_end(1.3)
    ev = d.on_transcript("no", True, 1.5)  # p = sigmoid(2) ~ 0.88 >= 0.85: still stops
    assert ev is not None and ev.label == "interruption"
    d2 = ArbiterDecider(toy_model(), params=PARAMS)
    d2.on_agent_speech("and then we", 0.0)
    d2.on_user_speech_start(1.0)
    voiced_frames(d2, 1.0, 10)
    d2.on_user_speech_end(1.3)
    ev2 = d2.on_transcript("them", True, 1.5)  # p = 0.5: below 0.85 for a short hum
    assert ev2 is not None and ev2.label == "backchannel"


def test_answer_to_a_question_takes_the_turn() -> None:
    d = ArbiterDecider(toy_model(), params=PARAMS)
    d.on_agent_speech("Does Tuesday work?", 0.0)
    d.on_user_speech_start(1.0)
    voiced_frames(d, 1.0, 10)
    ev = d.on_transcript("yeah", False, 1.4)
    assert ev is not None and ev.label == "interruption" and ev.cues == ("answer_to_question",)


def test_user_speech_without_agent_speech_is_not_an_overlap() -> None:
    d = ArbiterDecider(toy_model(), params=PARAMS)
    assert d.on_user_speech_start(1.0) is None
    assert d.state is ArbiterState.IDLE
    assert d.on_transcript("wait", True, 1.5) is None


def test_agent_stopping_mid_overlap_closes_it_undecided() -> None:
    d = ArbiterDecider(toy_model(), params=PARAMS)
    d.on_agent_speech("that is all", 0.0)
    d.on_user_speech_start(1.0)
    d.on_agent_speech_end(1.1)
    assert d.state is ArbiterState.IDLE
    assert d.on_transcript("wait", False, 1.4) is None


def test_params_validation_names_the_range() -> None:
    with pytest.raises(ValueError, match=r"interrupt_threshold must be in \[0, 1\]"):
        ArbiterParams(interrupt_threshold=1.5)
    with pytest.raises(ValueError, match="sustained_speech_s"):
        ArbiterParams(sustained_speech_s=0.0)


def test_frame_features_and_voice_activity() -> None:
    sr = 16_000
    t = np.arange(320) / sr
    tone = (0.3 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)
    f = frame_features(tone, sr)
    assert f.voiced and -15 < f.level_dbfs < -10 and f.duration_s == pytest.approx(0.02)
    silent = frame_features(np.zeros(320, dtype=np.float32), sr)
    assert not silent.voiced
    with pytest.raises(ValueError, match="empty audio frame"):
        frame_features(np.zeros(0, dtype=np.float32), sr)
    vad = VoiceActivity(start_s=0.06, end_silence_s=0.1)
    edges = []
    for k in range(40):
        feats = f if 10 <= k < 25 else silent
        e = vad.push(feats, round(0.02 * (k + 1), 6))
        if e is not None:
            edges.append(e)
    assert [e[0] for e in edges] == ["start", "end"]
    assert edges[0][1] == pytest.approx(0.2) and edges[1][1] == pytest.approx(0.6)


def test_model_files_missing_or_broken_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="bench.training.arbiter"):
        TextModel.load(tmp_path / "nope.npz")
    bad = tmp_path / "params.json"
    bad.write_text(json.dumps({"params": {"nonsense": 1}}))
    with pytest.raises(ModelFileError, match="arbiter parameters"):
        load_params(bad)


def test_shipped_model_separates_typical_backchannels_from_interruptions() -> None:
    model = TextModel.load()
    params = load_params()
    agent = "so the next step is to upload the file and then"
    for bc in ("Uh-huh.", "Yeah.", "Mm-hmm.", "Right."):
        assert model.probability(bc, agent) < params.final_threshold, bc
    for it in ("no the blue one", "what do you mean", "hold on I think that's wrong"):
        assert model.probability(it, agent) >= params.interrupt_threshold, it


def test_speech_resuming_before_the_verdict_continues_the_same_overlap() -> None:
    d = ArbiterDecider(toy_model(), params=PARAMS)
    d.on_agent_speech("and then we", 0.0)
    d.on_user_speech_start(1.0)
    voiced_frames(d, 1.0, 10)
    d.on_user_speech_end(1.3)
    assert d.on_user_speech_start(1.4) is None  # "so ... we will try"
    assert d.state is ArbiterState.LISTENING
    evs = voiced_frames(d, 1.4, 40)
    assert len(evs) == 1 and evs[0].label == "interruption"
    assert evs[0].decided_at_s == pytest.approx(2.0)


def test_truncated_model_and_out_of_range_params_raise_model_file_error(tmp_path: Path) -> None:
    npz = tmp_path / "text_model.npz"
    npz.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ModelFileError):
        TextModel.load(npz)
    bad = tmp_path / "params.json"
    bad.write_text(json.dumps({"params": {"interrupt_threshold": 7}}))
    with pytest.raises(ModelFileError, match="interrupt_threshold"):
        load_params(bad)


# ---------------------------------------------------------------- pause, then the words settle

PAUSING = replace(PARAMS, confirm_audio_stops=True, early_threshold=0.9)


def paused_on_early_audio(
    agent_text: str = "so the next step is to upload the file",
    params: ArbiterParams = PAUSING,
) -> ArbiterDecider:
    """A decider whose overlap (onset 2.0 s) the early audio paused at 2.2 s."""
    d = ArbiterDecider(toy_model(), params=params)
    d.on_agent_speech(agent_text, 0.0)
    d.on_user_speech_start(2.0)
    voiced_frames(d, 2.0, 10)
    assert d.push_onset_probability(0.95, 0.15, 2.2, voiced_s=0.15) is None
    assert d.state is ArbiterState.PAUSED and d.paused_at_s == pytest.approx(2.2)
    return d


def test_acknowledgement_after_a_pause_resumes_the_agent_as_a_backchannel() -> None:
    d = paused_on_early_audio()
    assert voiced_frames(d, 2.2, 10) == []  # "oh, okay" goes on: still paused
    assert d.on_transcript("Oh,", False, 2.45) is None
    assert d.on_user_speech_end(2.7) is None
    assert state_of(d) is ArbiterState.PAUSED
    # the final is in, but the user may go on: resume once the speech has been over 0.3 s
    assert d.on_transcript("Oh, okay.", True, 2.9) is None
    assert d.tick(2.7 + PAUSING.resume_silence_s - 0.02) is None
    ev = d.tick(2.7 + PAUSING.resume_silence_s)
    assert ev is not None and ev.label == "backchannel"
    assert ev.cues == ("early_audio", "acknowledgement")
    assert ev.paused_at_s == pytest.approx(2.2) and ev.decided_at_s == pytest.approx(3.0)
    assert ev.stop_latency_s == pytest.approx(0.2)
    assert state_of(d) is ArbiterState.BACKCHANNEL


def test_speech_going_on_after_an_acknowledgement_keeps_the_agent_paused() -> None:
    # "Oh. ... what about Tuesday": the gap after "Oh." must not resume the agent
    d = paused_on_early_audio()
    voiced_frames(d, 2.2, 5)
    assert d.on_transcript("Oh.", True, 2.35) is None
    assert d.on_user_speech_end(2.6) is None
    assert d.tick(2.8) is None
    assert d.on_user_speech_start(2.85) is None
    assert state_of(d) is ArbiterState.PAUSED
    voiced_frames(d, 2.85, 20)
    assert d.on_user_speech_end(3.5) is None
    ev = d.on_transcript("What about Tuesday?", True, 3.6)
    assert ev is not None and ev.label == "interruption"
    assert ev.stopped_at_s == pytest.approx(2.2)


def test_a_word_with_content_confirms_the_pause_at_once() -> None:
    d = paused_on_early_audio("the red one is cheaper and")
    voiced_frames(d, 2.2, 5)
    ev = d.on_transcript("wait", False, 2.5)
    assert ev is not None and ev.label == "interruption" and ev.cues == ("early_audio", "words")
    # the agent stopped at the pause, not when the words came
    assert ev.stopped_at_s == pytest.approx(2.2) and ev.latency_s == pytest.approx(0.5)
    assert state_of(d) is ArbiterState.INTERRUPTION


def test_unlikely_words_after_a_pause_resume_the_agent_under_the_resume_threshold() -> None:
    d = paused_on_early_audio(params=replace(PAUSING, resume_threshold=0.3))
    voiced_frames(d, 2.2, 10)
    # "makes sense" is not an acknowledgement, but the words say backchannel (P 0.05)
    assert d.on_transcript("Yeah, makes", False, 2.45) is None
    assert d.on_user_speech_end(2.7) is None
    assert d.on_transcript("Yeah, makes sense.", True, 2.9) is None
    assert state_of(d) is ArbiterState.PAUSED
    ev = d.tick(2.7 + PAUSING.resume_silence_s)
    assert ev is not None and ev.label == "backchannel"
    assert ev.cues == ("early_audio", "unlikely_words")
    assert ev.probability < 0.3


def test_likely_words_after_a_pause_confirm_it_under_the_resume_threshold() -> None:
    d = paused_on_early_audio(params=replace(PAUSING, resume_threshold=0.3))
    voiced_frames(d, 2.2, 10)
    ev = d.on_transcript("No, the blue", False, 2.45)
    assert ev is not None and ev.label == "interruption"
    assert ev.cues == ("early_audio", "words")
    assert ev.stopped_at_s == pytest.approx(2.2)


def test_without_a_resume_threshold_any_word_with_content_confirms_the_pause() -> None:
    d = paused_on_early_audio(params=replace(PAUSING, resume_threshold=0.0))
    voiced_frames(d, 2.2, 10)
    ev = d.on_transcript("Yeah, makes", False, 2.45)
    assert ev is not None and ev.label == "interruption"


def test_an_unsure_interim_leaves_the_pause_to_the_final() -> None:
    # seen on val: "right right right" came in as the interim "Like, right." and its final
    # as "Right, right, right, right."; the interim confirmed the pause and the
    # backchannel became a turn. Under `interim_confirm_threshold` the final settles it.
    params = replace(PAUSING, interim_confirm_threshold=0.9)
    d = paused_on_early_audio(params=params)
    voiced_frames(d, 2.2, 10)  # until 2.4
    assert d.on_transcript("Like, right.", False, 2.45) is None  # P 0.5 < 0.9
    assert state_of(d) is ArbiterState.PAUSED
    assert d.on_user_speech_end(2.6) is None
    assert d.on_transcript("Right, right, right.", True, 2.7) is None
    assert d.tick(2.6 + PAUSING.resume_silence_s - 0.02) is None
    ev = d.tick(2.6 + PAUSING.resume_silence_s)
    assert ev is not None and ev.label == "backchannel"
    assert ev.cues == ("early_audio", "acknowledgement")
    # with any interim word confirming (0, the default) the same timeline stood
    d = paused_on_early_audio()
    assert d.params.interim_confirm_threshold == 0.0
    voiced_frames(d, 2.2, 10)
    ev = d.on_transcript("Like, right.", False, 2.45)
    assert ev is not None and ev.label == "interruption" and ev.cues == ("early_audio", "words")


def test_a_sure_interim_or_a_final_with_content_confirms_the_pause_at_once() -> None:
    params = replace(PAUSING, interim_confirm_threshold=0.9)
    d = paused_on_early_audio(params=params)
    voiced_frames(d, 2.2, 10)
    ev = d.on_transcript("No, the blue", False, 2.45)  # P 0.99
    assert ev is not None and ev.label == "interruption" and ev.cues == ("early_audio", "words")
    assert ev.stopped_at_s == pytest.approx(2.2) and ev.decided_at_s == pytest.approx(2.45)
    # an unsure hypothesis waits for its final, and a final's words with content confirm it
    # (the final is the utterance); the stop is still the pause's
    d = paused_on_early_audio(params=params)
    voiced_frames(d, 2.2, 10)
    assert d.on_transcript("Like, the", False, 2.45) is None
    voiced_frames(d, 2.4, 10)  # the user goes on until 2.6
    ev = d.on_transcript("Like, the thing.", True, 2.7)
    assert ev is not None and ev.label == "interruption" and ev.cues == ("early_audio", "words")
    assert ev.stopped_at_s == pytest.approx(2.2) and ev.decided_at_s == pytest.approx(2.7)


def test_a_final_before_the_speech_ended_does_not_resume_the_agent() -> None:
    # seen on val: "Okay." was finalised while the user went on ("... I'm going to have a
    # key"); that final is not the utterance, the one after the speech is
    d = paused_on_early_audio()
    voiced_frames(d, 2.2, 10)  # until 2.4
    assert d.on_transcript("Okay.", True, 2.45) is None
    voiced_frames(d, 2.4, 20)  # the user goes on until 2.8
    assert d.on_user_speech_end(3.1) is None
    assert d.tick(3.3) is None and state_of(d) is ArbiterState.PAUSED
    ev = d.on_transcript("I'm going to have a key.", True, 3.4)
    assert ev is not None and ev.label == "interruption" and ev.cues == ("early_audio", "words")


def test_a_pause_without_a_final_after_the_speech_is_an_interruption() -> None:
    d = paused_on_early_audio()
    voiced_frames(d, 2.2, 10)
    assert d.on_transcript("Okay.", True, 2.3) is None  # before the last voiced frame
    assert d.on_user_speech_end(2.7) is None
    assert d.tick(2.7 + PAUSING.pause_wait_s - 0.02) is None
    ev = d.tick(2.7 + PAUSING.pause_wait_s)
    assert ev is not None and ev.label == "interruption" and ev.cues == ("early_audio", "no_final")


def test_a_pause_without_words_stays_a_stop() -> None:
    d = paused_on_early_audio()
    voiced_frames(d, 2.2, 5)
    d.on_user_speech_end(2.5)
    assert d.tick(2.5 + PAUSING.pause_wait_s - 0.02) is None
    ev = d.tick(2.5 + PAUSING.pause_wait_s)
    assert ev is not None and ev.label == "interruption" and ev.cues == ("early_audio", "no_words")
    assert ev.stopped_at_s == pytest.approx(2.2)  # the stop is the pause's, not the verdict's


def test_a_slow_final_inside_the_pause_wait_still_resumes_the_agent() -> None:
    # seen on test: the local recogniser's "Okay." came 0.84 s after the speech ended, after
    # `final_wait_s` (0.8 s); a pause waits `pause_wait_s` for it, so the words decide
    params = replace(PAUSING, final_wait_s=0.8, pause_wait_s=1.0)
    d = paused_on_early_audio(params=params)
    voiced_frames(d, 2.2, 5)
    assert d.on_user_speech_end(2.5) is None
    assert d.tick(2.5 + 0.82) is None and state_of(d) is ArbiterState.PAUSED
    ev = d.on_transcript("Okay.", True, 2.5 + 0.84)
    assert ev is not None and ev.label == "backchannel"
    assert ev.cues == ("early_audio", "acknowledgement")
    # with the verdict tied to `final_wait_s` the same timeline stood as an interruption
    d = paused_on_early_audio(params=replace(params, pause_wait_s=0.8))
    voiced_frames(d, 2.2, 5)
    d.on_user_speech_end(2.5)
    ev = d.tick(2.5 + 0.82)
    assert ev is not None and ev.label == "interruption" and ev.cues == ("early_audio", "no_words")


def test_an_answer_to_the_agents_question_confirms_the_pause() -> None:
    d = paused_on_early_audio("does Tuesday work?")
    ev = d.on_transcript("Yeah.", False, 2.4)
    assert ev is not None and ev.label == "interruption"
    assert ev.cues == ("early_audio", "answer_to_question")


def test_a_pause_longer_than_the_limit_is_an_interruption() -> None:
    from livekit.plugins.turntaking.arbiter.model import PAUSE_LIMIT_S

    d = paused_on_early_audio()
    d.on_transcript("yeah yeah right right", False, 2.8)
    evs = voiced_frames(d, 2.2, int(round(PAUSE_LIMIT_S / 0.02)))
    assert len(evs) == 1 and evs[0].label == "interruption"
    assert evs[0].cues == ("early_audio", "pause_limit")
    assert evs[0].decided_at_s == pytest.approx(2.2 + PAUSE_LIMIT_S)


def test_sustained_speech_pauses_unless_the_words_already_have_content() -> None:
    d = ArbiterDecider(toy_model(), params=PAUSING)
    d.on_agent_speech("let me explain how this works", 0.0)
    d.on_user_speech_start(5.0)
    assert voiced_frames(d, 5.0, 60) == []
    assert d.state is ArbiterState.PAUSED and d.paused_at_s == pytest.approx(6.0)

    d = ArbiterDecider(toy_model(), params=PAUSING)
    d.on_agent_speech("let me explain how this works", 0.0)
    d.on_user_speech_start(5.0)
    voiced_frames(d, 5.0, 20)
    # "so I think": below the word threshold, but not an acknowledgement
    assert d.on_transcript("so I think", False, 5.4) is None
    evs = voiced_frames(d, 5.4, 40)
    assert len(evs) == 1 and evs[0].cues == ("sustained_speech",)
    assert evs[0].paused_at_s is None and evs[0].stopped_at_s == pytest.approx(6.0)


def test_an_unpausable_agent_turns_the_pause_into_the_interruption() -> None:
    d = paused_on_early_audio()
    ev = d.confirm_pause(2.22)
    assert (
        ev is not None and ev.label == "interruption" and ev.cues == ("early_audio", "unpausable")
    )
    assert d.confirm_pause(2.3) is None  # nothing left to confirm


def test_the_agent_stopping_while_paused_ends_the_overlap() -> None:
    d = paused_on_early_audio()
    d.on_agent_speech_end(2.5)
    assert state_of(d) is ArbiterState.IDLE and d.paused_at_s is None
    assert d.on_transcript("okay", True, 2.6) is None


def paused_over_two_runs(second_frames: int) -> tuple[ArbiterDecider, float]:
    """Paused at 2.2 s (`paused_on_early_audio`); the speech runs on to 2.3 s and ends at
    2.6 s, and a second run of `second_frames` 20 ms frames starts at 2.9 s and ends 0.3 s
    after its last frame. Returns the decider and that second end, seconds."""
    d = paused_on_early_audio()
    voiced_frames(d, 2.2, 5)
    d.on_user_speech_end(2.6)
    d.on_user_speech_start(2.9)
    voiced_frames(d, 2.9, second_frames)
    end = round(2.9 + 0.02 * second_frames + 0.3, 6)
    d.on_user_speech_end(end)
    return d, end


def test_the_first_runs_final_arriving_late_does_not_resume_the_agent() -> None:
    # "yeah ... did it" (test): the final "Yeah." of the first run of speech came after the
    # second run had ended; only a final per run shows the whole utterance was heard
    d, end = paused_over_two_runs(20)
    assert end == pytest.approx(3.6)
    assert d.on_transcript("Yeah.", True, 3.85) is None
    assert d.tick(end + PAUSING.resume_silence_s + 0.1) is None
    assert state_of(d) is ArbiterState.PAUSED
    ev = d.on_transcript("I did it.", True, 4.0)
    assert ev is not None and ev.label == "interruption" and ev.stopped_at_s == pytest.approx(2.2)


def test_one_final_per_run_of_acknowledgements_resumes_the_agent() -> None:
    d, end = paused_over_two_runs(10)
    assert end == pytest.approx(3.4)
    assert d.on_transcript("Yeah.", True, 3.5) is None
    ev = d.on_transcript("Right.", True, 3.75)
    assert ev is not None and ev.label == "backchannel" and ev.decided_at_s == pytest.approx(3.75)


# ------------------------------------------------------- words-rule stops on acknowledgements


def sure_of_oh_model() -> TextModel:
    """A text model sure that "oh" interrupts (P 0.95) and that "okay" does not: the words
    rule would stop the agent on an interim "Oh"."""
    w = np.zeros(HASH_DIM, dtype=np.float32)
    for word, weight in {"oh": 3.0, "okay": -1.0, "wait": 4.0}.items():
        w[hashed_indices([f"u:{word}"])[0]] += weight
    return TextModel(w, 0.0)


def words_rule_on_oh(params: ArbiterParams) -> tuple[ArbiterDecider, OverlapEvent | None]:
    """Onset at 2.0 s, 0.4 s of speech, then the interim "Oh" at 2.45 s."""
    d = ArbiterDecider(sure_of_oh_model(), params=params)
    d.on_agent_speech("so the next step is to upload the file", 0.0)
    d.on_user_speech_start(2.0)
    assert voiced_frames(d, 2.0, 20) == []
    return d, d.on_transcript("Oh", False, 2.45)


def test_words_rule_on_acknowledgement_words_pauses_and_a_finished_acknowledgement_resumes() -> (
    None
):
    d, ev = words_rule_on_oh(PAUSING)
    assert ev is None and state_of(d) is ArbiterState.PAUSED
    assert d.paused_at_s == pytest.approx(2.45)
    assert d.on_user_speech_end(2.7) is None
    assert d.on_transcript("Oh, okay.", True, 2.9) is None
    ev = d.tick(2.7 + PAUSING.resume_silence_s)
    assert ev is not None and ev.label == "backchannel"
    assert ev.cues == ("words", "acknowledgement")
    assert ev.stop_latency_s == pytest.approx(0.45)


def test_words_rule_pause_is_confirmed_by_the_next_word_at_the_pause_time() -> None:
    d, ev = words_rule_on_oh(PAUSING)
    assert ev is None and state_of(d) is ArbiterState.PAUSED
    voiced_frames(d, 2.4, 10)
    ev = d.on_transcript("Oh wait", False, 2.7)
    assert ev is not None and ev.label == "interruption"
    assert ev.cues == ("words", "words")
    # the agent stopped when it paused, not when the confirming word came
    assert ev.stopped_at_s == pytest.approx(2.45) and ev.decided_at_s == pytest.approx(2.7)


def test_words_rule_on_acknowledgements_interrupts_at_once_when_the_pause_is_off() -> None:
    d, ev = words_rule_on_oh(replace(PAUSING, pause_on_acknowledgement=False))
    assert ev is not None and ev.label == "interruption" and ev.cues == ("words",)
    assert ev.paused_at_s is None and ev.stopped_at_s == pytest.approx(2.45)
    # and never pauses when audio stops are not confirmed either
    d, ev = words_rule_on_oh(PARAMS)
    assert ev is not None and ev.label == "interruption" and ev.paused_at_s is None


def test_default_params_are_the_shipped_operating_point() -> None:
    """`ArbiterParams()` behaves like the shipped arbiter: its defaults are exactly the
    operating point written to data/params.json by training."""
    from livekit.plugins.turntaking.arbiter.model import load_params

    assert ArbiterParams() == load_params()


# ------------------------------------------------------------------ the duck


def test_the_duck_follows_the_users_voice_while_the_overlap_is_undecided() -> None:
    d = ArbiterDecider(toy_model(), params=PARAMS)
    d.on_agent_speech("so the next step is to upload the file and then", 0.0)
    assert not d.duck_wanted(1.0)  # nobody over the agent
    d.on_user_speech_start(2.0)
    assert not d.duck_wanted(2.0)  # no voice heard yet
    voiced_frames(d, 2.0, 15)  # 0.3 s of "uh huh", 2.0-2.3 s
    assert d.duck_wanted(2.3)
    d.push_audio_features(QUIET, 2.32)
    assert d.duck_wanted(2.32)  # a gap inside a word keeps it
    assert d.duck_wanted(2.3 + DUCK_RELEASE_S - 0.01)
    assert not d.duck_wanted(2.3 + DUCK_RELEASE_S)  # silent that long: back to full level
    voiced_frames(d, 2.5, 2)  # the voice comes back before the verdict: ducked again
    assert d.duck_wanted(2.55)
    d.on_user_speech_end(2.9)
    ev = d.on_transcript("Uh-huh.", True, 3.0)
    assert ev is not None and ev.label == "backchannel"
    assert not d.duck_wanted(3.0)  # settled


def test_the_agents_echo_does_not_duck_it() -> None:
    echo = EchoVerdict(is_echo=True, lag_s=0.06, correlation=0.9)
    d = ArbiterDecider(toy_model(), params=PARAMS)
    d.on_agent_speech("so the next step is to upload the file and then", 0.0)
    d.on_user_speech_start(2.0)
    for k in range(10):
        d.push_audio_features(VOICED, round(2.02 + 0.02 * k, 6), echo)
    assert not d.duck_wanted(2.2)
    # a stray frame the echo gate missed is outweighed by the echo
    d.push_audio_features(VOICED, 2.22)
    assert not d.duck_wanted(2.22)


# -- the user going on with a turn committed a moment ago ---------------------------------


def _short_word_over_a_fresh_reply(*, continues_turn: bool, word: str) -> OverlapEvent | None:
    """The agent's reply ("okay") has just started; the user says one short word (0.2 s,
    under `short_speech_s`) that the toy model does not know (probability 0.5)."""
    d = ArbiterDecider(toy_model(), params=PARAMS)
    d.on_agent_speech("okay", 0.0)
    d.on_user_speech_start(0.05)
    voiced_frames(d, 0.05, 10)
    assert d.on_user_speech_end(0.3) is None
    return d.on_transcript(word, True, 0.6, continues_turn=continues_turn)


def test_the_rest_of_a_committed_sentence_is_not_a_backchannel() -> None:
    ev = _short_word_over_a_fresh_reply(continues_turn=True, word="Names.")
    assert ev is not None and ev.label == "interruption" and ev.cues == ("continuation",)
    # negative control: the same word over a reply well under way reads as a backchannel
    ev = _short_word_over_a_fresh_reply(continues_turn=False, word="Names.")
    assert ev is not None and ev.label == "backchannel"


def test_an_acknowledgement_stays_a_backchannel_while_going_on() -> None:
    ev = _short_word_over_a_fresh_reply(continues_turn=True, word="Yeah.")
    assert ev is not None and ev.label == "backchannel"
    # a tag question on the user's sentence asks the agent: their turn
    ev = _short_word_over_a_fresh_reply(continues_turn=True, word="Right?")
    assert ev is not None and ev.label == "interruption" and ev.cues == ("continuation",)
    # negative control: over a reply well under way the same "Right?" is a backchannel
    ev = _short_word_over_a_fresh_reply(continues_turn=False, word="Right?")
    assert ev is not None and ev.label == "backchannel"


def test_going_on_confirms_a_pause() -> None:
    d = paused_on_early_audio()
    voiced_frames(d, 2.2, 5)
    ev = d.on_transcript("the German names", False, 2.5, continues_turn=True)
    assert ev is not None and ev.label == "interruption"
    assert ev.cues == ("early_audio", "continuation")
