"""Manifest parsing/writing, audio loading and the audio variants of the benchmark sets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench.datasets.audio import AudioError, load_audio
from bench.datasets.manifest import (
    EndpointItem,
    ManifestError,
    OverlapItem,
    load_endpoint_manifest,
    load_overlap_manifest,
    write_endpoint_manifest,
    write_overlap_manifest,
)
from bench.datasets.render import (
    add_noise,
    apply_gain_db,
    mu_law_roundtrip,
    speech_bounds,
    telephony,
)

RATE = 16_000


def _tone(seconds: float, rate: int = RATE, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _wav(path: Path, seconds: float = 0.5) -> Path:
    sf.write(str(path), _tone(seconds), RATE)
    return path


def _jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


# ----------------------------------------------------------------------------- overlap


def test_overlap_manifest_resolves_paths_relative_to_its_folder(tmp_path: Path) -> None:
    (tmp_path / "clips").mkdir()
    _wav(tmp_path / "clips" / "a.wav")
    m = _jsonl(
        tmp_path / "m.jsonl",
        [
            {
                "id": "a",
                "audio": "clips/a.wav",
                "label": "backchannel",
                "onset_s": 0.4,
                "agent_text": "so the next",
                "source": "mrda",
                "speaker": "mrda:me001",
                "future_field": 1,
            },
            "",
        ],
    )
    (item,) = load_overlap_manifest(m)
    assert item.audio == (tmp_path / "clips" / "a.wav").absolute()
    assert (item.label, item.onset_s, item.agent_text) == ("backchannel", 0.4, "so the next")
    assert (item.source, item.speaker, item.text) == ("mrda", "mrda:me001", None)


def test_malformed_line_names_its_line_number(tmp_path: Path) -> None:
    _wav(tmp_path / "a.wav")
    good = {"id": "a", "audio": "a.wav", "label": "interruption", "onset_s": 0.1}
    m = _jsonl(tmp_path / "m.jsonl", [good, "", "{not json"])
    with pytest.raises(ManifestError, match=r"m\.jsonl:3: malformed JSON"):
        load_overlap_manifest(m)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"audio": "a.wav", "label": "backchannel", "onset_s": 0}, "missing required field 'id'"),
        ({"id": "x", "audio": "a.wav", "label": "stop", "onset_s": 0}, "field 'label' must be"),
        ({"id": "x", "audio": "a.wav", "label": "backchannel"}, "missing required field 'onset_s'"),
        ({"id": "x", "audio": "a.wav", "label": "backchannel", "onset_s": -1}, "number >= 0"),
        ({"id": "x", "audio": "a.wav", "label": "backchannel", "onset_s": "1"}, "number >= 0"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_bad_fields_name_line_and_field(tmp_path: Path, row: object, message: str) -> None:
    _wav(tmp_path / "a.wav")
    m = _jsonl(tmp_path / "m.jsonl", [row])
    with pytest.raises(ManifestError, match=r"m\.jsonl:1: ") as err:
        load_overlap_manifest(m)
    assert message in str(err.value)


def test_missing_audio_names_the_file(tmp_path: Path) -> None:
    m = _jsonl(
        tmp_path / "m.jsonl",
        [{"id": "a", "audio": "clips/gone.flac", "label": "backchannel", "onset_s": 0.2}],
    )
    expected = r"m\.jsonl:1: audio file not found: .*clips/gone\.flac"
    with pytest.raises(ManifestError, match=expected):
        load_overlap_manifest(m)


def test_duplicate_id_is_rejected(tmp_path: Path) -> None:
    _wav(tmp_path / "a.wav")
    row = {"id": "a", "audio": "a.wav", "label": "backchannel", "onset_s": 0.2}
    with pytest.raises(ManifestError, match=r":2: duplicate id 'a'"):
        load_overlap_manifest(_jsonl(tmp_path / "m.jsonl", [row, row]))


def test_overlap_write_then_load_round_trips(tmp_path: Path) -> None:
    audio = _wav(tmp_path / "x.wav")
    items = [
        OverlapItem(
            "i1",
            audio,
            "interruption",
            0.7234,
            agent_text="hello there",
            text="wait",
            source="swda",
            speaker="swda:1:A",
        ),
        OverlapItem("i2", audio, "backchannel", 0.5),
    ]
    out = tmp_path / "sets" / "o.jsonl"
    write_overlap_manifest(out, items)
    first = json.loads(out.read_text().splitlines()[0])
    assert first["audio"] == "../x.wav"
    assert first["onset_s"] == 0.723
    back = load_overlap_manifest(out)
    assert [b.id for b in back] == ["i1", "i2"]
    assert back[0].audio == audio.absolute() and back[0].speaker == "swda:1:A"


# ----------------------------------------------------------------------------- endpoint


def test_endpoint_manifest_parses_pauses_and_pause_texts(tmp_path: Path) -> None:
    _wav(tmp_path / "t.wav", 3.0)
    m = _jsonl(
        tmp_path / "e.jsonl",
        [
            {
                "id": "t",
                "audio": "t.wav",
                "speech_end_s": 2.0,
                "pauses": [[0.5, 0.8], [1.0, 1.3]],
                "pause_texts": ["we tried", "we tried it"],
                "speaker": "mrda:me001",
            }
        ],
    )
    (item,) = load_endpoint_manifest(m)
    assert item.pauses == ((0.5, 0.8), (1.0, 1.3))
    assert item.pause_texts == ("we tried", "we tried it")
    assert item.speech_end_s == 2.0


@pytest.mark.parametrize(
    ("pauses", "message"),
    [
        ([[0.8, 0.5]], "start < end"),
        ([[0.5, 0.9], [0.7, 1.0]], "previous end <= start"),
        ([[1.5, 2.5]], "<= speech_end_s"),
        ([[0.5]], "must be [start_s, end_s]"),
        (None, "missing required field 'pauses'"),
    ],
)
def test_bad_pauses_are_named(tmp_path: Path, pauses: object, message: str) -> None:
    _wav(tmp_path / "t.wav")
    row: dict[str, object] = {"id": "t", "audio": "t.wav", "speech_end_s": 2.0}
    if pauses is not None:
        row["pauses"] = pauses
    with pytest.raises(ManifestError, match=r"e\.jsonl:1: ") as err:
        load_endpoint_manifest(_jsonl(tmp_path / "e.jsonl", [row]))
    assert message in str(err.value)


def test_pause_texts_must_match_pauses(tmp_path: Path) -> None:
    _wav(tmp_path / "t.wav")
    row = {
        "id": "t",
        "audio": "t.wav",
        "speech_end_s": 2.0,
        "pauses": [[0.5, 0.8]],
        "pause_texts": ["a", "b"],
    }
    with pytest.raises(ManifestError, match="2 entries for 1 pauses"):
        load_endpoint_manifest(_jsonl(tmp_path / "e.jsonl", [row]))


def test_text_only_endpoint_manifest_round_trips(tmp_path: Path) -> None:
    item = EndpointItem(
        "t", Path(), 2.5, ((0.5, 0.9),), text="a b", speaker="mrda:x", pause_texts=("a",)
    )
    out = tmp_path / "train-text.jsonl"
    write_endpoint_manifest(out, [item])
    assert "audio" not in json.loads(out.read_text())
    with pytest.raises(ManifestError, match="missing required field 'audio'"):
        load_endpoint_manifest(out)
    (back,) = load_endpoint_manifest(out, require_audio=False)
    assert back == item


# ----------------------------------------------------------------------------- audio


def test_8k_stereo_flac_comes_out_16k_mono(tmp_path: Path) -> None:
    left = _tone(1.0, 8_000, 300.0)
    stereo = np.stack([left, left * 0.5], axis=1)
    p = tmp_path / "s.flac"
    sf.write(str(p), stereo, 8_000, format="FLAC")
    x = load_audio(p)
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - RATE) <= 2
    # downmix is the channel mean: 0.75 of the left channel's amplitude
    assert float(np.abs(x[2000:14000]).max()) == pytest.approx(0.3 * 0.75, rel=0.05)


def test_48k_wav_is_resampled(tmp_path: Path) -> None:
    p = tmp_path / "h.wav"
    sf.write(str(p), _tone(0.5, 48_000), 48_000)
    assert abs(len(load_audio(p)) - RATE // 2) <= 2


def test_bad_rates_and_empty_audio_are_clear_errors(tmp_path: Path) -> None:
    low = tmp_path / "low.wav"
    sf.write(str(low), _tone(0.2, 4_000), 4_000)
    with pytest.raises(AudioError, match=r"low\.wav: sample rate 4000 Hz out of range"):
        load_audio(low)
    high = tmp_path / "high.wav"
    sf.write(str(high), _tone(0.05, 96_000), 96_000)
    with pytest.raises(AudioError, match="96000 Hz out of range"):
        load_audio(high)
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0, dtype=np.float32), RATE)
    with pytest.raises(AudioError, match=r"empty\.wav: audio file is empty"):
        load_audio(empty)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all")
    with pytest.raises(AudioError, match=r"junk\.wav: unreadable audio"):
        load_audio(junk)
    with pytest.raises(AudioError, match="audio file not found"):
        load_audio(tmp_path / "nope.wav")


# ----------------------------------------------------------------------------- variants


def test_telephony_is_8k_and_close_to_the_input() -> None:
    x = _tone(1.0, freq=300.0)
    y = telephony(x)
    assert len(y) == 8_000
    ref = x[::2]
    err = float(np.sqrt(np.mean((y[100:-100] - ref[100:-100]) ** 2)))
    assert 0 < err < 0.02  # mu-law quantisation is audible but small


def test_mu_law_keeps_sign_and_range() -> None:
    x = np.array([-1.0, -0.01, 0.0, 0.01, 1.0], dtype=np.float32)
    y = mu_law_roundtrip(x)
    assert np.all(np.sign(y) == np.sign(x))
    assert np.allclose(y, x, atol=0.002)


def test_noise_is_added_at_the_requested_snr() -> None:
    speech = np.concatenate([np.zeros(RATE, np.float32), _tone(1.0), np.zeros(RATE, np.float32)])
    rng = np.random.default_rng(0)
    others = [rng.standard_normal(RATE).astype(np.float32) * 0.1 for _ in range(5)]
    y = add_noise(speech, others, snr_db=20.0, seed=1)
    noise = y - speech
    p_speech = float(np.mean(speech[RATE : 2 * RATE] ** 2))
    snr = 10 * np.log10(p_speech / float(np.mean(noise**2)))
    assert snr == pytest.approx(20.0, abs=0.5)
    # seeded: the same call gives the same audio, another seed another babble
    assert np.array_equal(y, add_noise(speech, others, snr_db=20.0, seed=1))
    assert not np.array_equal(y, add_noise(speech, others, snr_db=20.0, seed=2))
    with pytest.raises(ValueError, match="at least one other clip"):
        add_noise(speech, [], snr_db=20.0, seed=1)


def test_gain_reports_clipping() -> None:
    x = _tone(0.1)
    up, clipped = apply_gain_db(x, 6.0)
    assert clipped == 0 and float(np.abs(up).max()) == pytest.approx(0.6, rel=0.01)
    loud, clipped = apply_gain_db(x * 3, 6.0)
    assert clipped > 0 and float(np.abs(loud).max()) <= 1.0


def test_speech_bounds_find_the_tone() -> None:
    x = np.concatenate([np.zeros(800, np.float32), _tone(0.5), np.zeros(1600, np.float32)])
    a, b = speech_bounds(x, RATE)
    assert a == 800 and b == 800 + 8000


def test_tools_that_tune_on_val_refuse_test_manifests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.datasets.manifest import refuse_test_manifests
    from bench.training import arbiter, onset

    val, test = tmp_path / "val-clean.jsonl", tmp_path / "test-clean.jsonl"
    assert not refuse_test_manifests([val], "why")
    assert refuse_test_manifests([val, test], "chosen on val")
    assert f"refusing {test}: chosen on val" in capsys.readouterr().err
    # each tool refuses before it reads anything (the data folder does not even exist)
    missing = str(tmp_path / "no-data")
    assert arbiter.main(["--data", missing, "--val-manifest", str(test)]) == 2
    assert onset.main(["--data", missing, "--val-manifest", str(test)]) == 2
