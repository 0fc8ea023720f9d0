"""The bench command end to end on tiny committed clips (no shared data, no STT model):
error paths exit non-zero with one line; overlap and endpoint runs write the contract's
report with real framework baselines and a trivial custom system."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.datasets.audio import Samples
from bench.datasets.manifest import EndpointItem, OverlapItem
from bench.evaluation.types import EndpointOutcome, OverlapDecision, TranscriptEvent

FIXTURES = Path(__file__).parent / "fixtures" / "bench_cli"


class LoudnessOverlap:
    """Trivial system: an interruption when the user speaks for more than 1 s of loud audio."""

    name = "loudness"

    def decide(
        self, item: OverlapItem, audio: Samples, transcript: Sequence[TranscriptEvent]
    ) -> OverlapDecision:
        frame = 320
        loud = 0
        for k in range(0, len(audio) - frame, frame):
            if float(np.sqrt(np.mean(audio[k : k + frame] ** 2))) > 0.02:
                loud += 1
                if loud * 0.02 > 1.0:
                    return OverlapDecision("interruption", k / 16_000 + 0.02 - item.onset_s)
        return OverlapDecision("backchannel", len(audio) / 16_000 - item.onset_s)


class NeverFires:
    name = "never"
    thresholds = (1.0,)
    default_threshold = 1.0

    def reset(self) -> None:
        pass

    def run(
        self, item: EndpointItem, audio: Samples, transcript: Sequence[TranscriptEvent]
    ) -> list[EndpointOutcome]:
        return [EndpointOutcome(tuple(False for _ in item.pauses), None)]


def make_loudness() -> LoudnessOverlap:
    return LoudnessOverlap()


def make_never() -> NeverFires:
    return NeverFires()


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("bench: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_missing_manifest_exits_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["overlap", "--manifest", str(tmp_path / "nope.jsonl"),
                 "--out", str(tmp_path / "r.json"), "--stt", "none"])  # fmt: skip
    assert code != 0
    assert "nope.jsonl" in _one_line_error(capsys)
    assert not (tmp_path / "r.json").exists()


def test_malformed_line_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(FIXTURES / "bc.flac", tmp_path / "bc.flac")
    good = (FIXTURES / "overlap.jsonl").read_text().splitlines()[0]
    (tmp_path / "m.jsonl").write_text(good + "\n" + '{"id": "x", "audio": \n')
    code = main(["overlap", "--manifest", str(tmp_path / "m.jsonl"),
                 "--out", str(tmp_path / "r.json"), "--stt", "none"])  # fmt: skip
    assert code != 0
    assert "m.jsonl:2" in _one_line_error(capsys)


def test_missing_audio_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = json.loads((FIXTURES / "overlap.jsonl").read_text().splitlines()[0])
    line["audio"] = "absent.flac"
    (tmp_path / "m.jsonl").write_text(json.dumps(line) + "\n")
    code = main(["overlap", "--manifest", str(tmp_path / "m.jsonl"),
                 "--out", str(tmp_path / "r.json"), "--stt", "none"])  # fmt: skip
    assert code != 0
    assert "absent.flac" in _one_line_error(capsys)


def test_overlap_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    code = main(["overlap", "--manifest", str(FIXTURES / "overlap.jsonl"), "--out", str(out),
                 "--system", f"{__name__}:make_loudness", "--stt", "none",
                 "--cache", str(tmp_path / "cache")])  # fmt: skip
    assert code == 0
    rep = json.loads(out.read_text())
    assert rep["command"] == "overlap"
    assert set(rep) >= {"system", "items", "metrics", "baselines", "environment"}
    ours = {it["id"]: it for it in rep["items"]}
    # 0.34 s "uh huh" is never loud for 1 s; the 2.6 s interruption is
    assert ours["bc-1"]["decision"] == "backchannel"
    assert ours["int-1"]["decision"] == "interruption"
    assert rep["metrics"]["f1"] == 1.0
    # the framework's VAD rule: speech_duration reaches 0.5 s on both clips (it keeps
    # counting through the trailing silence before end of speech), so both stop the agent
    vad = rep["baselines"]["livekit-vad"]
    assert [it["decision"] for it in vad["items"]] == ["interruption", "interruption"]
    assert vad["metrics"]["false_stop_rate"]["value"] == 1.0
    # without transcripts, min_words=2 can never be met
    mw2 = rep["baselines"]["livekit-min-words-2"]
    assert [it["decision"] for it in mw2["items"]] == ["backchannel", "backchannel"]
    assert "livekit-vad" in capsys.readouterr().out


def test_endpoint_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    code = main(["endpoint", "--manifest", str(FIXTURES / "endpoint.jsonl"), "--out", str(out),
                 "--system", f"{__name__}:make_never", "--baseline", "fixed-500ms",
                 "--baseline", "livekit-dynamic", "--stt", "none",
                 "--cache", str(tmp_path / "cache")])  # fmt: skip
    assert code == 0
    rep = json.loads(out.read_text())
    item = json.loads((FIXTURES / "endpoint.jsonl").read_text())
    # never firing is charged the clip's remaining length (6.325 s clip)
    remaining = 6.32475 - item["speech_end_s"]
    assert rep["metrics"]["mean_latency_s"] == pytest.approx(remaining, abs=1e-3)
    assert rep["items"] == [{"id": "turn-1", "pause_fired": [False], "fired_at_s": None}]
    fixed = rep["baselines"]["fixed-500ms"]
    # the 0.9 s mid-turn pause exceeds a 0.5 s silence window: a false cut-off
    assert fixed["items"][0]["pause_fired"] == [True]
    fired = fixed["items"][0]["fired_at_s"]
    assert item["speech_end_s"] + 0.5 <= fired <= item["speech_end_s"] + 0.8
    curve = {p["threshold"]: p for p in fixed["metrics"]["curve"]}
    assert curve[2.0]["cutoff_rate"] == 0.0  # a 2 s window does not fire in a 0.9 s pause
    assert (out.with_suffix(".tradeoff.png")).stat().st_size > 1000
    assert "livekit-dynamic" in rep["baselines"]


def test_unreadable_audio_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = json.loads((FIXTURES / "overlap.jsonl").read_text().splitlines()[0])
    line["audio"] = "broken.flac"
    (tmp_path / "broken.flac").write_text("not audio")
    (tmp_path / "m.jsonl").write_text(json.dumps(line) + "\n")
    code = main(["overlap", "--manifest", str(tmp_path / "m.jsonl"),
                 "--out", str(tmp_path / "r.json"), "--stt", "none"])  # fmt: skip
    assert code != 0
    assert "broken.flac" in _one_line_error(capsys)


def test_suite_picks_val_test_clean_telephony_sets() -> None:
    from types import SimpleNamespace

    from bench.evaluation.suite import find_sets

    built = SimpleNamespace(
        overlap={"val/clean": "o1", "test/telephony": "o2", "test/noise": "o3"},
        endpoint={"test/clean": "e1", "train/clean": "e2"},
    )
    got = {(r.command, r.split, r.condition, str(r.manifest)) for r in find_sets(built)}
    assert got == {
        ("overlap", "val", "clean", "o1"),
        ("overlap", "test", "telephony", "o2"),
        ("endpoint", "test", "clean", "e1"),
    }


def test_load_subcommand_is_routed_and_rejects_bad_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench.cli import main

    assert main(["load", "--rounds", "0"]) == 2
    assert "--rounds must be in 1..20" in capsys.readouterr().out
    assert main(["load", "--soak-minutes", "1", "--rss-bound-mb", "10"]) == 2
    assert "--rss-bound-mb must be in 50..100000" in capsys.readouterr().out


def test_a_quick_run_writes_apart_from_a_full_run_of_the_same_day(tmp_path: Path) -> None:
    from bench.evaluation.suite import results_dir

    full = results_dir(tmp_path, "2026-12-01", quick=False)
    quick = results_dir(tmp_path, "2026-12-01", quick=True)
    assert full == tmp_path / "results" / "2026-12-01"
    assert quick != full and quick.parent == full.parent
