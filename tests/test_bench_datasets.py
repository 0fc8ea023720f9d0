"""Set building: the indexed scans of the derivation and the pooled render/variant build.

The voice is replaced by a deterministic stand-in (Piper's own output is random), so that
two builds can be compared file by file.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from stand_ins import StandInVoice

from bench.datasets import build
from bench.datasets.corpus import MrdaUtterance, MrdaWord
from bench.datasets.derive import MeetingIndex, is_backchannel_like

FIX = Path(__file__).parent / "fixtures" / "bench"


def _random_meeting(rng: random.Random, n: int) -> list[MrdaUtterance]:
    utts = []
    for i in range(n):
        start = round(rng.uniform(0, 60), 2)
        words = []
        t = start + rng.choice([0.0, 0.0, rng.uniform(-0.5, 2.0)])  # first word != start
        for _ in range(rng.randint(1, 6)):
            d = round(rng.uniform(0.1, 0.5), 2)
            words.append(MrdaWord(round(t, 2), round(t + d, 2), rng.choice(["yeah", "so", "ok"])))
            t += d + rng.choice([0.0, 0.05, 0.3])
        da = rng.choice(["s", "b", "s^bk", "qy", "fg"])
        spk = rng.choice(["a", "b", "c"])
        utts.append(MrdaUtterance("M", f"M-{i}", spk, start, t, tuple(words), da, i + 1))
    return sorted(utts, key=lambda u: (u.start_s, u.index))


def _agent_plain(utts: list[MrdaUtterance], u: MrdaUtterance, t0: float) -> int | None:
    for i, v in enumerate(utts):
        if v.words[0].start_s >= t0:
            break
        if v.speaker == u.speaker or not v.words[0].start_s < t0 < v.words[-1].end_s:
            continue
        if not is_backchannel_like(v):
            return i
    return None


@pytest.mark.parametrize("seed", range(20))
def test_meeting_index_scans_match_plain_scans(seed: int) -> None:
    rng = random.Random(seed)
    utts = _random_meeting(rng, rng.randint(1, 60))
    index = MeetingIndex(utts)
    for k, u in enumerate(utts):
        t0 = u.words[0].start_s
        assert index.agent_of(u, t0) == _agent_plain(utts, u, t0)
        t = rng.uniform(0, 70)
        stop = index.stop_after(k, t)
        assert [v for v in utts[k:stop] if v.words[0].start_s <= t] == [
            v for v in utts[k:] if v.words[0].start_s <= t
        ]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """The test fixtures with each meeting twice (a group needs two clips for babble)."""
    data = tmp_path / "data"
    shutil.copytree(FIX, data)
    db = data / "mrda" / "mrda_archive" / "database"
    names = [p.stem for p in sorted(db.glob("*.dadb"))]
    for name in names:
        shutil.copy(db / f"{name}.dadb", db / f"{name}b.dadb")
    split = data / "mrda" / "mrda_data" / "metadata" / "test_split.txt"
    split.write_text("".join(f"{n}\n{n}b\n" for n in names))
    return data


def _tree(root: Path) -> dict[str, str]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "summary.json")
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest() for p in files}


def test_build_does_not_depend_on_workers_or_job_split(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "Renderer", StandInVoice)
    monkeypatch.setattr(build, "VARIANT_CHUNK", 1)
    one = build.build_sets(corpus, tmp_path / "a", quick=True, workers=1, splits=("test",))
    monkeypatch.setattr(build, "VARIANT_CHUNK", 1000)
    two = build.build_sets(corpus, tmp_path / "b", quick=True, workers=2, splits=("test",))
    assert one.summary["clips_rendered_this_run"] > 0
    assert sorted(one.overlap) == sorted(two.overlap)
    assert sorted(one.endpoint) == sorted(two.endpoint)
    tree = _tree(tmp_path / "a")
    assert any(k.startswith("audio/endpoint/noise-v") for k in tree)
    assert tree == _tree(tmp_path / "b")
    # the summaries agree but for the times
    for summary in (one.summary, two.summary):
        del summary["render_and_variants_s"], summary["splits"]["test"]["render_and_variants_s"]
    assert json.dumps(one.summary) == json.dumps(two.summary)


def test_rebuild_reuses_every_clip_and_variant(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "Renderer", StandInVoice)
    build.build_sets(corpus, tmp_path / "c", quick=True, splits=("test",))
    audio = list((tmp_path / "c" / "audio").rglob("*.flac"))
    before = {p: p.stat().st_mtime_ns for p in audio}
    again = build.build_sets(corpus, tmp_path / "c", quick=True, splits=("test",))
    assert again.summary["clips_rendered_this_run"] == 0
    assert {p: p.stat().st_mtime_ns for p in audio} == before
    # a variant older than its clean clip is written again, and only it
    clean = next(p for p in audio if p.parent.name == "clean")
    stale = clean.parent.parent / f"telephony-v{build.VARIANT_VERSION}" / clean.name
    stale.unlink()
    build.build_sets(corpus, tmp_path / "c", quick=True, splits=("test",))
    assert stale.is_file()
    assert {p: p.stat().st_mtime_ns for p in audio if p != stale} == {
        p: t for p, t in before.items() if p != stale
    }


def test_capped_build_renders_exactly_the_items_a_capped_run_evaluates(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.datasets.manifest import load_endpoint_manifest, load_overlap_manifest, spread_subset

    monkeypatch.setattr(build, "Renderer", StandInVoice)
    whole = build.build_sets(corpus, tmp_path / "w", quick=True, splits=("test",))
    caps = {"overlap": 3, "endpoint": 2}
    capped = build.build_sets(corpus, tmp_path / "k", quick=True, splits=("test",), item_caps=caps)
    assert capped.root.name == "quick-evaluated"
    ov_all = load_overlap_manifest(whole.overlap["test/clean"])
    ov_cap = load_overlap_manifest(capped.overlap["test/clean"])
    assert len(ov_all) > caps["overlap"]
    assert [i.id for i in ov_cap] == [i.id for i in spread_subset(ov_all, caps["overlap"])]
    ep_all = load_endpoint_manifest(whole.endpoint["test/clean"])
    ep_cap = load_endpoint_manifest(capped.endpoint["test/clean"])
    assert [i.id for i in ep_cap] == [i.id for i in spread_subset(ep_all, caps["endpoint"])]
    # only those items were synthesised
    rendered = {p.stem for p in (tmp_path / "k" / "audio").rglob("clean/*.flac")}
    assert rendered == {i.id for i in ov_cap} | {i.id for i in ep_cap}
    with pytest.raises(ValueError, match="item_caps"):
        build.build_sets(corpus, tmp_path / "x", quick=True, item_caps={"session": 2})


def test_command_line_builds_the_splits_and_caps_it_is_given(
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench.datasets.manifest import load_overlap_manifest

    monkeypatch.setattr(build, "Renderer", StandInVoice)
    argv = ["--data", str(corpus), "--cache", str(tmp_path), "--quick", "--splits", "test"]
    assert build.main([*argv, "--overlap-items", "3", "--endpoint-items", "2"]) == 0
    out = capsys.readouterr().out
    assert "test/clean" in out and "val/" not in out
    m = tmp_path / "quick-evaluated" / "overlap" / "test-clean.jsonl"
    assert len(load_overlap_manifest(m)) == 3
    assert build.main([*argv, "--overlap-items", "0"]) == 2
    assert "item_caps" in capsys.readouterr().err


def test_noise_conditions_share_a_spread_subset_with_a_third_per_snr(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.datasets.audio import load_audio
    from bench.datasets.manifest import load_overlap_manifest, spread_subset
    from bench.datasets.render import NOISE_KINDS, step_gain

    monkeypatch.setattr(build, "Renderer", StandInVoice)
    monkeypatch.setattr(build, "NOISE_CONDITION_ITEMS", 6)
    built = build.build_sets(corpus, tmp_path, quick=True, splits=("test",))
    clean = load_overlap_manifest(built.overlap["test/clean"])
    ids = [i.id for i in spread_subset(clean, 6)]
    by_kind = {k: load_overlap_manifest(built.overlap[f"test/{k}"]) for k in NOISE_KINDS}
    snrs = [i.snr_db or 0.0 for i in by_kind["babble"]]
    assert sorted(snrs) == [10.0, 10.0, 15.0, 15.0, 20.0, 20.0]
    assert built.summary["splits"]["test"]["noise_conditions"]["snr_db"] == {
        "10": 2,
        "15": 2,
        "20": 2,
    }
    onsets = {i.id: i.onset_s for i in clean}
    for kind, items in by_kind.items():
        assert [i.id for i in items] == ids
        assert [i.snr_db for i in items] == snrs
        assert all(i.onset_s == onsets[i.id] for i in items)
        for item in items:
            record = json.loads(item.audio.with_suffix(".json").read_text())
            assert record["kind"] == kind and record["snr_db"] == item.snr_db
            assert abs(record["step_db"]) == 6.0
        # the clip is the clean one plus noise at the recorded SNR, the noise taken before
        # its step; the stand-in voice's tones have a power of 0.3**2 / 2 wherever active
        item = items[0]
        record = json.loads(item.audio.with_suffix(".json").read_text())
        x = load_audio(clean[[i.id for i in clean].index(item.id)].audio)
        env = step_gain(len(x), step_at_s=record["step_at_s"], step_db=record["step_db"])
        noise = (load_audio(item.audio) - x) / env
        snr_db = 10 * np.log10(0.3**2 / 2 / np.mean(noise**2))
        assert snr_db == pytest.approx(record["snr_db"], abs=0.5)
    # the other variants keep every item and carry no SNR
    assert [i.snr_db for i in load_overlap_manifest(built.overlap["test/noise"])] == [None] * len(
        clean
    )
