"""Notebook 7's interleaved measurement: what it measures, and a refusal before memory runs out."""
import pytest

from helpers import interleaved


def test_check_room_refuses_in_one_line_when_the_variants_left_may_not_fit(tiny_model):
    interleaved.check_room(tiny_model, still_to_load=0)  # the last one loaded: nothing left to fit
    interleaved.check_room(tiny_model, still_to_load=3)  # a tiny model: three more fit anywhere
    with pytest.raises(MemoryError, match=r"holds every evaluated variant at once, and 1000000000 more of about "
                                          r"0\.\d\d GiB each may not fit in the [\d.]+ GiB free on cpu"):
        interleaved.check_room(tiny_model, still_to_load=10**9)
