"""Pure decision logic of the adaptive endpointing plugin, on literal timelines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from livekit.plugins.turntaking.endpointing.model import (
    DEFAULT_STT_WAIT_S,
    FEATURE_VERSION,
    MIN_PAUSE_S,
    OPEN_DICTATION_MIN_DELAY_S,
    AdaptiveEndpointer,
    CompletenessModel,
    EndpointState,
    ModelFileError,
    PausePrior,
    SpeakerPauseModel,
    commit_delay,
    cue_min_delay_s,
    end_probability,
    expected_digits,
    feature_indices,
    feature_strings,
    normalize_words,
    trailing_digits,
    turn_cues,
)

# A prior with the corpus' shape (median ~0.5 s, long tail), literal so the tests do not
# depend on the shipped file.
_LEVELS = np.linspace(0.0, 0.999, 101)
PRIOR = PausePrior(np.minimum(0.2 - 0.3 * np.log1p(-_LEVELS), 3.0))


@pytest.fixture(scope="module")
def shipped() -> CompletenessModel:
    return CompletenessModel.load()


def _endpointer(
    completeness: CompletenessModel | None = None, threshold: float = 0.9
) -> AdaptiveEndpointer:
    return AdaptiveEndpointer(
        completeness=completeness, pauses=SpeakerPauseModel(PRIOR), threshold=threshold
    )


def _speak(ep: AdaptiveEndpointer, start_s: float, end_s: float, text: str) -> None:
    ep.on_speech_start(start_s)
    ep.on_transcript(text, end_s, is_final=True)
    ep.on_speech_end(end_s)


def test_normalize_words_is_asr_like() -> None:
    assert normalize_words("Well, O_K... I'll call 555-12!") == [
        "well", "okay", "i'll", "call", "<num>", "<num>", "<num>", "<num>", "<num>",
    ]  # fmt: skip
    assert normalize_words("") == []


def test_cues() -> None:
    assert turn_cues(normalize_words("my number is five five")).dictation
    assert turn_cues(normalize_words("write to anna @")).dictation
    assert turn_cues(normalize_words("and um")).trailing_filler
    assert turn_cues(normalize_words("i went there and")).trailing_continuer
    done = turn_cues(normalize_words("that sounds great"))
    assert not (done.dictation or done.trailing_filler or done.trailing_continuer)


@pytest.mark.parametrize(
    ("weights", "n_pauses", "fast_below_s", "slow_above_s"),
    [((8.0, 4.0), 12, 0.6, 1.2), ((None, None), 60, 0.9, 1.0)],
    ids=["quick-adaptation", "shipped-adaptation"],
)
def test_fast_speaker_gets_shorter_windows_than_slow_speaker(
    weights: tuple[float | None, float | None],
    n_pauses: int,
    fast_below_s: float,
    slow_above_s: float,
) -> None:
    def make() -> AdaptiveEndpointer:
        k, s = weights
        pauses = (
            SpeakerPauseModel(PRIOR)
            if k is None or s is None
            else SpeakerPauseModel(PRIOR, prior_weight=k, scale_weight=s)
        )
        return AdaptiveEndpointer(completeness=None, pauses=pauses, threshold=0.9)

    fast = make()
    slow = make()
    t = 0.0
    for _ in range(n_pauses):  # mid-turn pauses: 0.25 s vs 1.2 s
        _speak(fast, t, t + 1.0, "")
        _speak(slow, t, t + 1.0, "")
        fast.on_speech_start(t + 1.25)
        slow.on_speech_start(t + 2.2)
        t += 3.0
    assert len(fast.pauses.pauses_s) == n_pauses == len(slow.pauses.pauses_s)
    fast.on_speech_end(t)
    slow.on_speech_end(t)
    d_fast, d_slow = fast.delay_for_pause(), slow.delay_for_pause()
    assert d_fast is not None and d_slow is not None
    assert d_fast < fast_below_s < slow_above_s < d_slow
    assert fast.pauses.quantile_s(0.9) < slow.pauses.quantile_s(0.9)


def test_timeline_commits_only_after_the_delay_and_resumption_learns_the_pause() -> None:
    ep = _endpointer()
    _speak(ep, 0.0, 1.0, "")
    dec = ep.decision()
    assert dec is not None and ep.state is EndpointState.PAUSED
    assert ep.poll(1.0 + dec.delay_s - 0.01) is None
    assert ep.on_speech_start(1.4) == pytest.approx(0.4)  # went on: learnt
    ep.on_speech_end(2.0)
    dec = ep.decision()
    assert dec is not None
    assert ep.poll(2.0 + dec.delay_s) is dec
    assert ep.state.value == "committed"
    assert ep.poll(10.0) is None  # one commit per silence


def test_short_blip_and_agent_speech_are_not_learnt() -> None:
    ep = _endpointer()
    _speak(ep, 0.0, 1.0, "")
    assert ep.on_speech_start(1.0 + MIN_PAUSE_S / 2) is None  # too short to be a pause
    ep.on_speech_end(2.0)
    ep.on_agent_speech()  # the agent talked in this silence
    assert ep.on_speech_start(3.0) is None
    assert ep.pauses.pauses_s == []


def test_backchannel_does_not_end_the_pause() -> None:
    ep = _endpointer()
    _speak(ep, 0.0, 1.0, "")
    ep.on_speech_start(1.3)  # "mhm" over the agent, classified as a backchannel
    ep.discard_speech()
    assert ep.pauses.pauses_s == []
    assert ep.state is EndpointState.PAUSED
    dec = ep.decision()
    assert dec is not None and dec.pause_start_s == 1.0


def test_dictated_phone_number_waits_longer_than_a_complete_sentence(
    shipped: CompletenessModel,
) -> None:
    done = _endpointer(shipped)
    _speak(done, 0.0, 2.0, "Yes, that sounds good to me.")
    digits = _endpointer(shipped)
    _speak(digits, 0.0, 2.0, "my number is five five five two")
    d_done, d_digits = done.decision(), digits.decision()
    assert d_done is not None and d_digits is not None
    assert d_digits.cues.dictation and not d_done.cues.dictation
    assert d_digits.p_end < 0.5 * d_done.p_end
    assert d_digits.delay_s > d_done.delay_s + 0.1


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("My number is four one five.", "415"),
        ("my number is 415. 2 2 3. 4 5 6 7", "4152234567"),
        ("(415) 223-4567", "4152234567"),
        ("one four one five, double two three, four five six seven", "14152234567"),
        ("triple 5, 1 2", "55512"),
        ("four one five double", ""),  # cut before the repeated digit
        ("four one five, um, two two three", "415223"),
        ("call me at 415 um", ""),  # a trailing filler: the caller may go on
        ("it costs twenty two", ""),  # a quantity, not digits one by one
        ("that sounds good", ""),
        ("", ""),
    ],
)
def test_trailing_digits(text: str, digits: str) -> None:
    assert trailing_digits(text) == digits


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("my number is four one five two two three four five six seven", True),
        ("it's 1 415 223 4567.", True),
        ("my number is four one five two two three four five six", False),  # 9 digits
        ("2 415 223 4567", False),  # 11 digits need the country code 1
        ("my number is four one five two two three", False),
    ],
)
def test_a_whole_phone_number_is_a_complete_dictation(text: str, complete: bool) -> None:
    cues = turn_cues(normalize_words(text), text=text)
    assert cues.dictation
    assert cues.number_complete is complete
    # without the raw text the digits are folded into <num>: never complete
    assert not turn_cues(normalize_words(text)).number_complete


def test_the_end_of_a_phone_number_is_answered_at_once(shipped: CompletenessModel) -> None:
    # "four one five" [1.6 s] "two two three four five six seven": patient in the pause,
    # quick after the tenth digit, at the shipped threshold
    ep = _endpointer(shipped, threshold=0.98)
    _speak(ep, 0.0, 1.5, "My number is four one five.")
    paused = ep.decision()
    assert paused is not None and paused.cues.dictation and paused.delay_s > 1.6
    assert ep.poll(3.0) is None
    _speak(ep, 3.1, 5.0, "Two two three, four five six seven.")
    done = ep.decision()
    assert done is not None and done.cues.number_complete
    assert done.p_end == pytest.approx(0.97) and done.delay_s < 0.5
    assert ep.poll(5.0 + done.delay_s) is done
    # the same turn one digit short stays patient
    short = _endpointer(shipped, threshold=0.98)
    _speak(short, 0.0, 2.0, "my number is four one five two two three four five six")
    d = short.decision()
    assert d is not None and not d.cues.number_complete and d.delay_s > 1.6


@pytest.mark.parametrize(
    ("prompt", "digits"),
    [
        ("What is the six-digit code we sent you?", 6),
        ("Please read me the 6 digit code.", 6),
        ("Your four-digit PIN, please.", 4),
        ("Can you confirm the last four of your social?", 4),
        ("And the last 4 digits of the card?", 4),
        ("What is your ZIP code?", 5),
        ("Not the 4-digit PIN: the 6-digit code, please.", 6),  # the last one named
        ("What is the best number to reach you?", None),  # a phone number needs no count
        ("Over the last two days, what happened?", None),
        ("Read me the 25 digit serial.", None),  # longer than MAX_EXPECTED_DIGITS
        ("Read me the 125-digit key.", None),  # not "25"
        ("Which phone digits did you dial?", None),  # not "one digits"
        ("The seventeen-digit VIN, please.", 17),
        ("", None),
    ],
)
def test_expected_digits_reads_the_count_the_agent_asks_for(
    prompt: str, digits: int | None
) -> None:
    assert expected_digits(prompt) == digits


def test_an_expected_count_completes_a_dictation_only_at_that_count() -> None:
    text = "it's four one five two two three"
    words = normalize_words(text)
    assert turn_cues(words, text=text, expected=6).number_complete
    assert not turn_cues(words, text=text, expected=5).number_complete
    assert not turn_cues(words, text=text).number_complete
    # a phone number stays whole whatever count was asked for
    phone = "four one five two two three four five six seven"
    assert turn_cues(normalize_words(phone), text=phone, expected=6).number_complete


def test_digit_homophones_are_a_second_reading() -> None:
    # Whisper wrote "It's for one five. 2 2 3" for "it's four one five, two two three"
    heard = "It's for one five. 2 2 3"
    assert trailing_digits(heard) == "15223"
    assert trailing_digits(heard, homophones=True) == "415223"
    assert turn_cues(normalize_words(heard), text=heard, expected=6).number_complete
    # "to" before a phone number is a word: the plain reading keeps the number whole
    sent = "Send it to 415 223 4567"
    assert trailing_digits(sent, homophones=True) == "24152234567"
    assert turn_cues(normalize_words(sent), text=sent).number_complete
    # a homophone read as a digit never makes a six-digit code of a longer run
    code = "It's for one five two two three"
    assert not turn_cues(normalize_words(code), text=code, expected=7).number_complete


def test_the_code_the_agent_asked_for_is_answered_once_whole(shipped: CompletenessModel) -> None:
    # agent: "the 6-digit code?"; user: "four one five" [1.6 s] "two two three": patient in
    # the pause, quick after the sixth digit; without the question the same turn waits
    ep = _endpointer(shipped, threshold=0.98)
    ep.on_agent_message("What is the six-digit code we sent you?")
    assert ep.expected_digits == 6
    _speak(ep, 0.0, 1.2, "It's four one five.")
    paused = ep.decision()
    assert paused is not None and paused.cues.dictation and paused.delay_s > 1.6
    assert ep.poll(2.8) is None
    _speak(ep, 2.8, 4.0, "Two two three.")
    done = ep.decision()
    assert done is not None and done.cues.number_complete and done.delay_s < 0.5
    assert ep.poll(4.0 + done.delay_s) is done
    unasked = _endpointer(shipped, threshold=0.98)
    unasked.on_agent_message("Thanks. Anything else?")
    assert unasked.expected_digits is None
    _speak(unasked, 0.0, 1.2, "It's four one five.")
    _speak(unasked, 2.8, 4.0, "Two two three.")
    d = unasked.decision()
    assert d is not None and not d.cues.number_complete and d.delay_s > 1.6


def test_end_probability_after_a_whole_number_is_floored() -> None:
    whole = turn_cues(["<num>"] * 10, text="4152234567")
    part = turn_cues(["<num>"] * 6, text="415223")
    assert end_probability(0.01, cues=whole) == pytest.approx(0.97)
    assert end_probability(0.995, cues=whole) == pytest.approx(0.995)  # never lowered
    assert end_probability(0.5, cues=part) == pytest.approx(0.2 / 1.2)  # dictation odds


def test_filler_and_trailing_conjunction_wait_longer(shipped: CompletenessModel) -> None:
    def delay(text: str) -> float:
        ep = _endpointer(shipped)
        _speak(ep, 0.0, 2.0, text)
        d = ep.delay_for_pause()
        assert d is not None
        return d

    complete = delay("I would like to book a table for two.")
    assert delay("I would like to book a table for two and um") > complete
    assert delay("I would like to book a table because") > complete


def test_completeness_model_orders_complete_over_cut(shipped: CompletenessModel) -> None:
    # what the shipped model does learn: a content word ends a turn more often than an
    # article or a filler (it is weak elsewhere; see docs/endpointing.md)
    assert shipped.probability("we should meet on tuesday") > shipped.probability(
        "we should meet on the"
    )
    assert shipped.probability("i think that is right") > shipped.probability("i think that is um")


def test_late_transcript_replans_the_pause(shipped: CompletenessModel) -> None:
    ep = _endpointer(shipped)
    ep.on_speech_start(0.0)
    ep.on_transcript("i want to go to", 0.8, is_final=False)
    ep.on_speech_end(1.0)
    first = ep.decision()
    ep.on_transcript("i want to go to the station please", 1.3, is_final=True)
    second = ep.decision()
    assert first is not None and second is not None
    assert second.p_text is not None and first.p_text is not None
    assert second.p_text > first.p_text
    assert second.delay_s < first.delay_s


def test_commit_waits_for_the_final_of_the_speech_that_ended_the_pause(
    shipped: CompletenessModel,
) -> None:
    ep = _endpointer(shipped)
    assert ep.stt_wait_s == DEFAULT_STT_WAIT_S
    _speak(ep, 0.0, 1.0, "four one five")  # final at 1.0 s, the pause's start
    assert ep.stt_hold_until_s() is None
    ep.on_speech_start(2.6)  # a stalled recogniser: nothing at all for this speech
    ep.on_speech_end(3.6)
    dec = ep.decision()
    assert dec is not None
    hold = ep.stt_hold_until_s()
    assert hold == pytest.approx(max(dec.commit_at_s, dec.pause_start_s + DEFAULT_STT_WAIT_S))
    ep.on_transcript("two two", 3.5, is_final=False)  # an interim is not the final
    assert ep.stt_hold_until_s() is not None
    ep.on_transcript("two two three", 3.9, is_final=True)
    assert ep.stt_hold_until_s() is None
    assert ep.turn_text == "four one five two two three"
    # the hold is not the policy: poll() still commits at the decision's own time
    dec = ep.decision()
    assert dec is not None and ep.poll(dec.commit_at_s) is dec


def test_a_final_just_before_the_vad_end_of_speech_counts() -> None:
    ep = _endpointer()
    ep.on_speech_start(0.0)
    ep.on_transcript("yes", 0.75, is_final=True)  # finalised on the word's end
    ep.on_speech_end(1.0)  # the VAD let the trailing breath run on
    assert ep.stt_hold_until_s() is None
    ep.on_speech_start(1.5)
    ep.on_speech_end(2.5)  # 1.75 s after the last final: this speech is untranscribed
    assert ep.stt_hold_until_s() is not None
    off = AdaptiveEndpointer(completeness=None, pauses=SpeakerPauseModel(PRIOR), stt_wait_s=0.0)
    off.on_speech_start(0.0)
    off.on_speech_end(1.0)
    assert off.stt_hold_until_s() is None


def test_commit_delay_is_monotone_and_clamped() -> None:
    sp = SpeakerPauseModel(PRIOR)
    grid, surv = sp.grid_s, sp.survival()
    ds = [
        commit_delay(p, grid, surv, threshold=0.9, floor_s=0.1, ceiling_s=2.0)
        for p in (0.01, 0.2, 0.5, 0.8, 0.99)
    ]
    assert ds == sorted(ds, reverse=True)
    assert ds[0] == 2.0 and ds[-1] == 0.1
    stricter = commit_delay(0.5, grid, surv, threshold=0.97, floor_s=0.1, ceiling_s=2.0)
    assert stricter >= ds[2]


def test_end_probability_combines_log_odds() -> None:
    assert end_probability(0.5, 0.9, audio_weight=1.0) == pytest.approx(0.9)
    assert end_probability(0.5, 0.9, audio_weight=0.0) == pytest.approx(0.5)
    assert end_probability(None) == pytest.approx(0.385)


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="threshold"):
        AdaptiveEndpointer(completeness=None, pauses=SpeakerPauseModel(PRIOR), threshold=1.0)
    with pytest.raises(ValueError, match="floor_s"):
        AdaptiveEndpointer(
            completeness=None, pauses=SpeakerPauseModel(PRIOR), floor_s=1.0, ceiling_s=0.5
        )
    with pytest.raises(ValueError, match=r"stt_wait_s must be in \[0, 5"):
        AdaptiveEndpointer(completeness=None, pauses=SpeakerPauseModel(PRIOR), stt_wait_s=-1.0)
    ep = _endpointer()
    with pytest.raises(ValueError, match="probability"):
        ep.on_audio_probability(1.5)


def test_missing_model_file_says_how_to_rebuild(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="bench.training.endpointing"):
        CompletenessModel.load(tmp_path / "nope.npz")
    bad = tmp_path / "prior.npz"
    np.savez(bad, quantiles_s=np.array([1.0, 0.5]))
    with pytest.raises(ModelFileError, match="sorted"):
        PausePrior.load(bad)


def test_model_files_carry_their_feature_set(tmp_path: Path) -> None:
    words = normalize_words("we could meet on tuesday then")
    w = np.zeros(64)
    w[feature_indices(words, 64, version=1)] = 1.0
    legacy = tmp_path / "v1.npz"  # written before files had a version: the first set
    np.savez(legacy, weights=w, bias=0.0)
    v1 = CompletenessModel.load(legacy)
    assert v1.feature_version == 1
    assert v1.logit(words) == pytest.approx(float(w[feature_indices(words, 64, 1)].sum()))
    assert len(feature_strings(words, 2)) > len(feature_strings(words, 1))
    current = tmp_path / "v2.npz"
    np.savez(current, weights=w, bias=0.0, feature_version=FEATURE_VERSION)
    assert CompletenessModel.load(current).feature_version == FEATURE_VERSION
    unknown = tmp_path / "v9.npz"
    np.savez(unknown, weights=w, bias=0.0, feature_version=9)
    with pytest.raises(ModelFileError, match="feature_version must be one of"):
        CompletenessModel.load(unknown)


def test_short_answers_read_as_finished(shipped: CompletenessModel) -> None:
    # trained on every turn, short ones included: a bare answer reads about as finished as
    # the average silence (0.39 of them end a turn) or more (until 2026-12-02 it read as the
    # least finished text of all; since 2026-12-06 Map Task's "no, ..." corrections pull
    # "no" down to about that rate)
    cut = shipped.probability("we should meet on the")
    for answer in ("yes", "no", "okay", "tuesday"):
        assert shipped.probability(answer) > 0.35  # the model before 2026-12-02: 0.011-0.019
        assert shipped.probability(answer) > 2.0 * cut
    assert shipped.probability("i think that is right") > shipped.probability("i think that is um")


@pytest.mark.parametrize(
    ("text", "reading_out"),
    [
        ("my number is four one five", True),
        ("it's 415 22", True),
        ("It's for 1-5.", True),  # the recogniser wrote "for" for "four"
        ("my number is four one five two two three four five six seven", False),  # whole
        ("that was in nineteen ninety", False),  # talking about a number
        ("we have two one", False),
        ("i want to go to the", False),
    ],
)
def test_only_digits_being_read_out_hold_the_turn_whatever_the_patience(
    text: str, reading_out: bool
) -> None:
    cues = turn_cues(normalize_words(text), text=text)
    assert cues.digit_string is reading_out
    assert cue_min_delay_s(cues) == (OPEN_DICTATION_MIN_DELAY_S if reading_out else 0.0)
    grid = np.arange(0.0, 3.0, 0.01)
    survival = np.exp(-grid / 0.4)
    # the most impatient setting still waits out a pause between digit groups
    d = commit_delay(0.5, grid, survival, threshold=0.3, floor_s=0.15, ceiling_s=2.5, cues=cues)
    if reading_out:
        assert d == OPEN_DICTATION_MIN_DELAY_S
    else:
        assert d < 0.5
    # the ceiling still bounds it
    capped = commit_delay(0.5, grid, survival, threshold=0.3, floor_s=0.1, ceiling_s=1.0, cues=cues)
    assert capped <= 1.0


def test_patience_floor_is_off_at_the_default_and_grows_with_patience() -> None:
    from livekit.plugins.turntaking.endpointing.model import (
        DEFAULT_FLOOR_S,
        DEFAULT_THRESHOLD,
        PATIENT_FLOOR_MAX_S,
        patience_floor_s,
    )

    assert patience_floor_s(DEFAULT_THRESHOLD) == DEFAULT_FLOOR_S
    levels = [patience_floor_s(t) for t in (0.3, 0.6, 0.7, 0.8, 0.9, 0.95, 0.995)]
    assert levels == sorted(levels) and levels[0] == DEFAULT_FLOOR_S
    assert levels[-1] <= PATIENT_FLOOR_MAX_S and levels[3] > 0.5
