"""Map Task endpoint turns, on hand-made dialogues in the corpus's NXT format.

tests/fixtures/maptask/ was written by hand (no corpus file is copied): in q1ec1 (train)
the follower's acknowledgements fall inside the giver's holds and the follower's question
and reply take the floor; in q6ec1 (val) and q7ec1 (test) the follower has no moves file,
so the acknowledgement word list decides. Every expected time below follows from the
fixtures' literal times.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from stand_ins import StandInVoice

from bench.datasets import build
from bench.datasets.corpus import CorpusError
from bench.datasets.derive import PAUSE_MIN_S, Segment
from bench.datasets.manifest import load_endpoint_manifest
from bench.datasets.maptask import (
    MaptaskWord,
    derive_maptask_endpoints,
    dialogue_turns,
    floor_flags,
    maptask_dialogues,
    read_dialogue,
    read_maptask_split,
    turn_silences,
)

FIX = Path(__file__).parent / "fixtures"
MAPTASK = FIX / "maptask"
ROOT = MAPTASK / "maptask"


def _turns(name: str, role: str) -> list[tuple[list[str], list[tuple[float, float]], float | None]]:
    d = read_dialogue(ROOT, name)
    return [
        ([w.text for w in t.words], list(t.holds), t.floor_taken_s)
        for t in dialogue_turns(d)
        if t.role == role
    ]


def test_turn_ends_where_the_partner_takes_the_floor_not_at_an_acknowledgement() -> None:
    giver = _turns("q1ec1", "g")
    assert giver == [
        # the follower's "mmhmm" (acknowledge) in 1.2-1.8 s does not end the turn; the
        # question at 3.8 s does
        (["go", "down", "past", "the", "mill"], [(1.2, 1.8)], 3.8),
        # 6.5-6.65 s is under 0.2 s: no hold; "okay" (acknowledge) at 7.9 s leaves the
        # 7.8-8.5 s silence a hold; the reply at 9.0 s takes the floor
        (
            ["it's", "on", "the", "left", "and", "then", "stop", "there"],
            [(6.9, 7.15), (7.8, 8.5)],
            9.0,
        ),
    ]
    follower = _turns("q1ec1", "f")
    # the follower's acknowledgements are turns of their own, each ended by the giver
    assert [t[0] for t in follower] == [
        ["mmhmm"],
        ["where", "is", "the", "mill"],
        ["okay"],
        ["right", "got", "it"],
    ]
    assert [t[2] for t in follower] == [1.8, 5.5, 8.5, None]


def test_silences_for_training_label_holds_and_floor_taking_ends() -> None:
    # the giver's turns of q1ec1 as the labelled silences the completeness model learns:
    # holds are mid-turn pauses with the text so far, a floor-taking end ends the turn
    got = [
        (s.start_s, round(s.length_s, 2), s.words[-1], s.ends_turn, s.earlier_pauses)
        for s in turn_silences(read_dialogue(ROOT, "q1ec1"))
        if s.speaker == "maptask:q1eta1"
    ]
    assert got == [
        (1.2, 0.6, "down", False, 0),  # the hold under the follower's "mmhmm"
        (2.7, 1.1, "mill", True, 1),  # the follower's question at 3.8 s takes the floor
        (6.9, 0.25, "and", False, 0),
        (7.8, 0.7, "stop", False, 1),  # "okay" does not take it
        (8.9, 0.1, "there", True, 2),  # the reply at 9.0 s does
    ]


def test_holds_are_silences_of_at_least_the_mrda_pause_minimum() -> None:
    d = read_dialogue(ROOT, "q1ec1")
    holds = [b - a for t in dialogue_turns(d) for a, b in t.holds]
    assert holds and min(holds) >= PAUSE_MIN_S - 1e-9
    gaps = [
        b.start_s - a.end_s
        for t in dialogue_turns(d)
        for a, b in zip(t.words, t.words[1:], strict=False)
    ]
    # the 0.15 s gap is inside a turn but is not a hold
    assert any(0 < g < PAUSE_MIN_S for g in gaps)
    assert len(holds) == sum(1 for g in gaps if g >= PAUSE_MIN_S - 1e-9)


def _w(start_s: float, end_s: float, text: str, move: str | None = None) -> MaptaskWord:
    return MaptaskWord(start_s, end_s, text, 0, move)


def test_words_without_a_move_take_the_floor_unless_all_acknowledgement_words() -> None:
    assert floor_flags([_w(0.0, 0.3, "right")]) == [False]
    assert floor_flags([_w(0.0, 0.3, "mmhmm"), _w(0.35, 0.6, "okay")]) == [False, False]
    assert floor_flags([_w(0.0, 0.3, "turn"), _w(0.3, 0.6, "left")]) == [True, True]
    # joined stretch (gap under 0.2 s): "right go" takes the floor as a whole
    assert floor_flags([_w(0.0, 0.3, "right"), _w(0.4, 0.6, "go")]) == [True, True]
    # separate stretches are judged apart
    assert floor_flags([_w(0.0, 0.3, "right"), _w(0.8, 1.0, "go")]) == [False, True]
    # a move's label wins over the word list, both ways
    assert floor_flags([_w(0.0, 0.3, "right", "reply_y")]) == [True]
    assert floor_flags([_w(0.0, 0.3, "go", "acknowledge")]) == [False]


def test_without_moves_the_word_list_decides() -> None:
    (turn,) = [t for t in dialogue_turns(read_dialogue(ROOT, "q6ec1")) if t.role == "g"]
    assert [w.text for w in turn.words] == ["go", "north", "for", "a", "bit"]
    assert turn.holds == ((1.4, 2.0),)  # the follower's "right" at 1.5 s took no floor
    assert turn.floor_taken_s == 3.9


def test_kept_turns_become_endpoint_specs_like_the_mrda_ones() -> None:
    specs = derive_maptask_endpoints(read_dialogue(ROOT, "q1ec1"))
    assert [s.id for s in specs] == ["maptask-q1ec1-g-0001", "maptask-q1ec1-g-0006"]
    first, second = specs
    assert first.speaker == "maptask:q1eta1"
    # clip from 0.5 s before the first word (0.5 s into the dialogue)
    assert first.segments == (Segment(0.5, 1.2, "go down"), Segment(1.8, 2.7, "past the mill."))
    assert first.pause_texts == ("go down",)
    assert first.tail_s == 3.5
    assert second.segments == (
        Segment(0.5, 1.9, "it's on the left and"),
        Segment(2.15, 2.8, "then stop"),
        Segment(3.5, 3.9, "there."),
    )
    # the follower's turns: too short or no hold, or the dialogue ended
    assert not [s for s in specs if s.id.startswith("maptask-q1ec1-f")]


def test_splits_are_by_quad_and_share_no_speaker() -> None:
    seen: dict[str, set[str]] = {}
    for split in ("train", "val", "test"):
        names = maptask_dialogues(MAPTASK, split)
        assert names == [{"train": "q1ec1", "val": "q6ec1", "test": "q7ec1"}[split]]
        seen[split] = {s for d in read_maptask_split(MAPTASK, split) for s in d.speakers.values()}
    assert not (seen["train"] & seen["val"]) and not (seen["val"] & seen["test"])
    assert not (seen["train"] & seen["test"])


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    shutil.copytree(ROOT, tmp_path / "maptask")
    return tmp_path / "maptask"


def test_missing_timed_units_file_is_named(broken: Path) -> None:
    path = broken / "timed-units" / "q1ec1.f.timed-units.xml"
    path.unlink()
    with pytest.raises(CorpusError, match="q1ec1.f.timed-units.xml: file not found"):
        read_dialogue(broken, "q1ec1")


def test_malformed_xml_names_the_file(broken: Path) -> None:
    path = broken / "moves" / "q1ec1.g.moves.xml"
    path.write_text(path.read_text().replace("</nite:root>", ""))
    with pytest.raises(CorpusError, match=r"q1ec1\.g\.moves\.xml: malformed XML"):
        read_dialogue(broken, "q1ec1")


def test_bad_times_and_dangling_references_are_named(broken: Path) -> None:
    tu = broken / "timed-units" / "q1ec1.g.timed-units.xml"
    tu.write_text(tu.read_text().replace('start="0.5000"', 'start="soon"'))
    with pytest.raises(CorpusError, match=r"q1ec1\.g\.timed-units\.xml: <tu id='q1ec1g\.1'>"):
        read_dialogue(broken, "q1ec1")
    tu.write_text(tu.read_text().replace('start="soon"', 'start="0.5000"'))
    moves = broken / "moves" / "q1ec1.g.moves.xml"
    moves.write_text(moves.read_text().replace("id(q1ec1g.6)", "id(q1ec1g.99)"))
    with pytest.raises(CorpusError, match=r"q1ec1\.g\.moves\.xml: .*'q1ec1g\.99'"):
        read_dialogue(broken, "q1ec1")


def test_missing_split_file_and_unknown_dialogue_are_named(broken: Path) -> None:
    with pytest.raises(CorpusError, match="maptask-corpus.xml: dialogue 'q9ec9'"):
        read_dialogue(broken, "q9ec9")
    (broken / "metadata" / "val_split.txt").unlink()
    with pytest.raises(CorpusError, match="val_split.txt: split file not found"):
        maptask_dialogues(broken.parent, "val")


# ----------------------------------------------------------------------------- build


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "summary.json"
    }


def test_build_adds_maptask_manifests_and_leaves_the_others_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "Renderer", StandInVoice)
    plain = tmp_path / "plain"
    shutil.copytree(FIX / "bench", plain)
    # each meeting twice: the noise variant's babble needs two clips per group
    db = plain / "mrda" / "mrda_archive" / "database"
    names = [p.stem for p in sorted(db.glob("*.dadb"))]
    for name in names:
        shutil.copy(db / f"{name}.dadb", db / f"{name}b.dadb")
    split = plain / "mrda" / "mrda_data" / "metadata" / "test_split.txt"
    split.write_text("".join(f"{n}\n{n}b\n" for n in names))
    both = tmp_path / "both"
    shutil.copytree(plain, both)
    shutil.copytree(ROOT, both / "maptask")
    without = build.build_sets(plain, tmp_path / "a", quick=True, workers=1, splits=("test",))
    with_mt = build.build_sets(both, tmp_path / "b", quick=True, workers=1, splits=("test",))
    assert set(with_mt.endpoint) - set(without.endpoint) == {
        "test/maptask-clean",
        "test/maptask-telephony",
    }
    # every MRDA/SWDA manifest and clip is byte for byte what the build without Map Task made
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert {k: v for k, v in b.items() if "maptask" not in k} == a
    path = with_mt.endpoint_manifest("test", "maptask-clean")
    assert path.name == "test-maptask-clean.jsonl"
    (item,) = load_endpoint_manifest(path)
    assert item.id == "maptask-q7ec1-g-0001" and item.speaker == "maptask:q7eta1"
    assert item.text == "go north for a bit."
    assert len(item.pauses) == 1
    start, end = item.pauses[0]
    assert end - start >= PAUSE_MIN_S and item.speech_end_s > end
    assert json.loads(path.read_text())["source"] == "maptask"
    tel = load_endpoint_manifest(with_mt.endpoint_manifest("test", "maptask-telephony"))
    assert [i.speech_end_s for i in tel] == [item.speech_end_s]
    assert with_mt.summary["splits"]["test"]["maptask"]["endpoint_turns"] == 1
