"""The endpointing corpus population and its replay, on literal word timelines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from livekit.plugins.turntaking.endpointing.model import DEFAULT_CEILING_S, CompletenessModel

from bench.datasets.silences import Silence, Word, meeting_silences, read_meeting
from bench.evaluation.endpoint_corpus import adaptive_delays, main, markdown, replay_split, run
from bench.training.endpointing import design, examples, fit
from tests.test_endpointing_model import PRIOR


def _w(start_s: float, text: str, speaker: str, *, bc: bool = False, cut: bool = False) -> Word:
    return Word(start_s, start_s + 0.3, text, speaker, bc, cut)


def _meeting() -> list[Word]:
    return [
        _w(0.0, "yes", "A"),  # a one-word turn without a pause
        _w(0.6, "I", "B"),
        _w(0.9, "think", "B"),
        _w(1.8, "so", "B"),  # after a 0.6 s mid-turn pause
        _w(2.3, "uh-huh", "A", bc=True),  # a backchannel does not take the floor
        _w(2.8, "we", "B"),  # 0.2 s after "so": a mid-turn pause of exactly MIN_PAUSE_S
        _w(3.5, "and", "A", cut=True),  # A is cut off: no turn end for it
        _w(4.0, "fine", "B"),
        _w(9.0, "later", "B"),  # 4.7 s after "fine", nobody spoke: a new turn, no label
        _w(9.6, "ok", "A"),
        _w(10.0, "bye", "B"),
    ]


def test_every_turn_end_and_mid_turn_pause_is_a_silence() -> None:
    got = [
        (
            s.speaker,
            round(s.start_s, 2),
            round(s.length_s, 2),
            " ".join(s.words),
            s.ends_turn,
            s.earlier_pauses,
        )
        for s in meeting_silences(_meeting())
    ]
    assert got == [
        ("A", 0.3, 3.2, "yes", True, 0),  # a short turn is a complete example
        ("B", 1.2, 0.6, "i think", False, 0),
        ("B", 2.1, 0.7, "i think so", False, 1),
        ("B", 3.1, 0.9, "i think so we", True, 2),  # A's "and" took the floor
        ("B", 9.3, 0.7, "later", True, 0),
    ]  # fmt: skip


def test_examples_label_ends_and_keep_pause_lengths() -> None:
    ex = examples({"M": meeting_silences(_meeting())}, no_pause_weight=0.25)
    assert ex.labels == [1, 0, 0, 1, 1]
    assert ex.texts[0] == ["yes"]
    assert ex.pauses_s == pytest.approx([0.6, 0.7])
    # the ends of turns without a pause ("yes", "later") weigh less in the loss
    assert ex.weights == [0.25, 1.0, 1.0, 1.0, 0.25]
    with pytest.raises(ValueError, match="no_pause_weight"):
        examples({}, no_pause_weight=1.5)


def test_an_example_of_weight_zero_is_not_learnt() -> None:
    texts = [["yes"], ["so"]]
    rows, cols = design(texts)
    y = np.array([1.0, 0.0])
    w_both, b_both = fit(rows, cols, y, 1e-4, np.array([1.0, 0.0]))
    r1, c1 = design(texts[:1])
    w_one, b_one = fit(r1, c1, y[:1], 1e-4)
    assert b_both == pytest.approx(b_one)
    assert w_both == pytest.approx(w_one)


def test_read_meeting_marks_backchannels_and_cut_off_utterances(tmp_path: Path) -> None:
    db = tmp_path / "M.dadb"
    db.write_text(
        "0.0,0.5,M-1,x,0.0+0.5+yeah,b,c1,A\n"
        "1.0,2.0,M-2,x,1.0+1.4+and|1.5+2.0+then,s.%-,c2,B\n"
        "3.0,3.5,M-3,x,3.0+3.5+right,s^aa,c1,A\n"
    )
    words = read_meeting(db)
    assert [(w.text, w.backchannel, w.cut_off) for w in words] == [
        ("yeah", True, False),
        ("and", False, True),
        ("then", False, True),
        ("right", False, False),
    ]


def _silence(start_s: float, length_s: float, text: str, ends: bool, earlier: int) -> Silence:
    return Silence("A", start_s, length_s, tuple(text.split()), ends, earlier)


def test_replay_charges_the_delay_to_ends_and_counts_longer_pauses_as_cut_offs() -> None:
    sure_end = CompletenessModel(weights=np.zeros(16), bias=8.0)  # P(end) ~ 1 for any text
    meetings = {
        "M": [
            _silence(0.0, 0.3, "so", False, 0),
            _silence(1.0, 2.0, "so that is it", True, 1),
            _silence(5.0, 1.0, "yes", True, 0),
        ]
    }
    r = replay_split(meetings, sure_end, PRIOR)
    assert (r["mid_turn_pauses"], r["turn_ends"], r["turn_ends_without_pause"]) == (1, 2, 1)
    systems = r["systems"]
    assert isinstance(systems, dict)
    fixed = {p["threshold"]: p for p in systems["fixed"]["curve"]}
    assert fixed[0.25]["cutoff_rate"] == 1.0 and fixed[0.3]["cutoff_rate"] == 0.0
    assert fixed[0.3]["latency_s"] == pytest.approx(0.3)
    assert systems["fixed"]["at_5pct"]["threshold"] == 0.3
    ours = systems["ours"]["default"]
    # a sure end commits at the floor, which cuts the 0.3 s pause off too
    assert ours["latency_s"] == pytest.approx(0.15) and ours["cutoff_rate"] == 1.0


def test_words_that_arrive_late_hold_the_commit_until_they_arrive() -> None:
    sure_end = CompletenessModel(weights=np.zeros(16), bias=8.0)
    meetings = {"M": [_silence(0.0, 1.0, "that is all", True, 0)]}
    # a patience at which the floor is the plain one (`patience_floor_s`)
    _, at_once = adaptive_delays(meetings, sure_end, PRIOR, (0.55,))
    _, late = adaptive_delays(meetings, sure_end, PRIOR, (0.55,), lag_s=0.3)
    _, base_only = adaptive_delays(meetings, None, PRIOR, (0.55,))
    assert at_once[0, 0] == pytest.approx(0.15)
    assert late[0, 0] == pytest.approx(0.3)  # the base rate alone would wait longer
    assert base_only[0, 0] > 0.3
    # with no confident text the lag changes nothing
    _, unsure_late = adaptive_delays(meetings, None, PRIOR, (0.55,), lag_s=0.3)
    assert unsure_late[0, 0] == pytest.approx(base_only[0, 0])
    with pytest.raises(ValueError, match="lag_s"):
        adaptive_delays(meetings, None, PRIOR, lag_s=DEFAULT_CEILING_S + 1)


def test_each_speaker_learns_only_their_own_earlier_pauses() -> None:
    long_pauses = [_silence(float(k), 2.0, "well", False, k) for k in range(30)]
    other = Silence("B", 100.0, 1.0, ("yes",), True, 0)
    meetings = {"M": [*long_pauses, _silence(99.0, 1.0, "done", True, 0), other]}
    order, d = adaptive_delays(meetings, None, PRIOR, (0.9,))
    by_speaker = {(s.speaker, s.start_s): d[i, 0] for i, s in enumerate(order)}
    # A's slow pauses stretch A's curve; B starts from the prior
    assert by_speaker[("A", 99.0)] > by_speaker[("B", 100.0)]
    assert by_speaker[("A", 0.0)] == pytest.approx(by_speaker[("B", 100.0)])


FIX = Path(__file__).parent / "fixtures" / "bench"


def test_run_reads_a_split_of_real_dadb_files_and_reports_every_system() -> None:
    report = run(FIX, ("test",))
    r = report["test"]
    assert isinstance(r, dict) and r["meetings"] == 2
    assert r["turn_ends"] > 0 and r["mid_turn_pauses"] > 0
    md = markdown(report)
    for name in ("ours", "ours-pause-only", "fixed"):
        assert f"| {name} |" in md


def test_cli_says_what_is_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data", str(tmp_path), "--split", "val"]) == 2
    assert "mrda not found" in capsys.readouterr().err
    assert main(["--data", str(FIX), "--split", "test", "--lag-s", "9"]) == 2
    assert "lag_s must be in" in capsys.readouterr().err
    assert main(["--data", str(FIX), "--split", "val"]) == 2  # the fixture has no val split
    assert "val_split.txt" in capsys.readouterr().err


def test_the_maptask_replay_reads_its_dialogues(tmp_path: Path) -> None:
    from bench.evaluation.endpoint_corpus import load_silences

    with pytest.raises(ValueError, match="corpus must be one of mrda, maptask"):
        load_silences(tmp_path, "val", "switchboard")
    assert main(["--data", str(tmp_path), "--split", "val", "--corpus", "maptask"]) == 2
