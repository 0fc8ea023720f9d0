"""The greedy derivation of acknowledgement words from train utterances."""

from __future__ import annotations

import pytest
from livekit.plugins.turntaking.arbiter.model import (
    ACKNOWLEDGEMENT_WORDS,
    BASE_ACKNOWLEDGEMENTS,
    TRAIN_ACKNOWLEDGEMENTS,
    acknowledgement_only,
)

from bench.training.acknowledgements import derive

BACKCHANNELS = [["mmm"]] * 6 + [["um"]] * 5 + [["yeah"]] * 4 + [["cool", "beans"]] * 2


def test_words_that_spare_backchannels_are_added_best_first() -> None:
    interruptions = [["um"]] + [["wait", "no"]] * 10
    steps = derive(BACKCHANNELS, interruptions, {"yeah"})
    assert [s.word for s in steps] == ["mmm", "um"]
    assert (steps[0].backchannels, steps[0].interruptions) == (6, 0)
    assert (steps[1].backchannels, steps[1].interruptions) == (5, 1)
    # "cool" or "beans" alone makes no backchannel acknowledgement-only: never added


def test_a_word_that_costs_too_many_interruptions_is_left_out() -> None:
    interruptions = [["um"]] * 3 + [["wait", "no"]] * 8
    assert [s.word for s in derive(BACKCHANNELS, interruptions, {"yeah"})] == ["mmm"]


def test_derive_refuses_an_empty_class() -> None:
    with pytest.raises(ValueError, match="at least one"):
        derive([], [["wait"]], set())


def test_shipped_list_is_the_base_plus_the_train_words() -> None:
    assert set(BASE_ACKNOWLEDGEMENTS.split()) | set(TRAIN_ACKNOWLEDGEMENTS.split()) == set(
        ACKNOWLEDGEMENT_WORDS
    )
    assert acknowledgement_only(["that's", "interesting"])
    assert not acknowledgement_only(["that's", "wrong"])
