"""Notebook 7's interleaved measurement: what it measures, and a refusal before memory runs out."""
import pytest

from helpers import interleaved


def test_check_room_refuses_in_one_line_when_the_variants_left_may_not_fit(tiny_model):
    interleaved.check_room(tiny_model, still_to_load=0)  # the last one loaded: nothing left to fit
    interleaved.check_room(tiny_model, still_to_load=3)  # a tiny model: three more fit anywhere
    with pytest.raises(MemoryError, match=r"holds every evaluated variant at once, and 1000000000 more of about "
                                          r"0\.\d\d GiB each may not fit in the [\d.]+ GiB free on cpu"):
        interleaved.check_room(tiny_model, still_to_load=10**9)


def test_evaluated_variants_are_refused_only_where_their_inference_cannot_run(monkeypatch):
    def record(variant, **spec):
        full = {"precision": "fp32", "method": "none", "sparsity": 0.0, "pattern": "unstructured", "finetune": "none",
                "parent": "", **spec}
        return {"notebook": "06_rca_eval", "phase": "inference", "variant": variant, "spec": full}

    monkeypatch.setattr(interleaved, "pick_device", lambda: "cpu")
    records = [record("fp16-lora", precision="fp16", finetune="lora"), record("dynamic-int8", precision="dynamic-int8")]
    assert list(interleaved.evaluated_variants(records)) == ["fp16-lora", "dynamic-int8"]  # trained elsewhere: runs
    monkeypatch.setattr(interleaved, "pick_device", lambda: "cuda")
    with pytest.raises(ValueError, match=r"this machine cannot run dynamic-int8 \(torchao dynamic int8 runs on CPU only "
                                         r"in this study \(on CUDA: int8, bitsandbytes\)\)$"):
        interleaved.evaluated_variants(records)
