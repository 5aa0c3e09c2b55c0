"""Measurement windows: real CPU-time model and CodeCarbon offline, mocked NVML and RAPL counters,
failures reported as unavailable (never 0), chunked repeats with a 95 % interval."""
import math
import os

import pytest

from helpers import energy


def busy(seconds=0.2):
    import time

    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


class FakeMeter:
    """A counter-style meter returning scripted readings; an Exception in the script is raised."""

    def __init__(self, name, values):
        self.name, self.values = name, iter(values)

    def _next(self):
        value = next(self.values)
        if isinstance(value, Exception):
            raise value
        return value

    def start(self):
        self._start = self._next()

    def stop(self):
        return self._next() - self._start


def test_cpu_model_reading_has_method_and_positive_joules():
    with energy.measure("inference", meters=[energy.CpuTimeModel()]) as window:
        busy(1.0)  # long enough that the window's own bookkeeping (a first CUDA check: ~0.02 s) stays inside 10 %
    (reading,) = window.readings
    assert reading["method"] == energy.CPU_MODEL_METHOD and "modelled" in reading["method"]
    assert reading["joules"] == pytest.approx(window.cpu_s * energy.WATTS_PER_THREAD, rel=0.1)
    assert reading["joules"] >= 1.0 * energy.WATTS_PER_THREAD * 0.9
    assert window.joules() == reading["joules"] and window.duration_s > 0
    assert 0 <= window.other_load <= 1


def test_codecarbon_offline_for_real_writes_only_to_its_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with energy.measure("inference", meters=[energy.CodeCarbon(tmp_path / "cc"), energy.CpuTimeModel()]) as window:
        busy(0.3)
    codecarbon, cpu = window.readings
    assert codecarbon["joules"] > 0 and "codecarbon" in codecarbon["method"]
    assert codecarbon["joules"] > cpu["joules"]  # it adds a constant RAM power on top of the CPU
    assert not (tmp_path / "emissions.csv").exists()
    energy.CodeCarbon._trackers[(str(tmp_path / "cc"), "SWE")].stop()
    assert list((tmp_path / "cc").glob("*.csv"))


def test_nvml_style_counter_difference_becomes_joules():
    nvml = FakeMeter("nvml", [1.0, 51.0])
    with energy.measure("inference", meters=[nvml, energy.CpuTimeModel()]) as window:
        pass
    gpu, cpu = window.readings
    assert gpu["method"] == energy.NVML_METHOD and gpu["joules"] == pytest.approx(50.0)
    assert window.joules() == pytest.approx(50.0) and cpu["method"] == energy.CPU_MODEL_METHOD


def test_nvml_counter_that_did_not_advance_is_unknown_not_zero():
    nvml = object.__new__(energy.Nvml)  # the real class, its counter read replaced
    nvml._read = lambda: 12_345
    with energy.measure("response", meters=[nvml, energy.CpuTimeModel()]) as window:
        busy(0.02)
    gpu, cpu = window.readings
    assert gpu["joules"] is None and "did not advance" in gpu["method"]
    assert window.joules() == cpu["joules"] > 0


def test_cpu_only_work_does_not_read_the_gpu_counter(monkeypatch):
    class FakeCuda:  # a machine with a GPU, as the meters see it
        cuda = type("cuda", (), {"current_device": staticmethod(lambda: 0)})

    monkeypatch.setattr(energy, "_cuda_torch", lambda: FakeCuda)
    monkeypatch.setattr(energy, "Nvml", lambda index: FakeMeter("nvml", [0.0, 80.0]))
    assert [m.name for m in energy.default_meters()][0] == "nvml"
    assert "nvml" not in [m.name for m in energy.default_meters(gpu=False)]


def test_meter_failing_mid_window_is_unavailable_not_zero():
    nvml = FakeMeter("nvml", [1.0, RuntimeError("GPU lost")])
    with energy.measure("inference", meters=[nvml, energy.CpuTimeModel()]) as window:
        busy(0.05)
    gpu, cpu = window.readings
    assert gpu["joules"] is None and gpu["method"] == "nvml unavailable: RuntimeError: GPU lost"
    assert window.joules() == cpu["joules"] and window.method() == energy.CPU_MODEL_METHOD


def fake_powercap(root, values, max_range=1000):
    domain = root / "intel-rapl:0"
    domain.mkdir(parents=True, exist_ok=True)
    (domain / "max_energy_range_uj").write_text(str(max_range))
    (domain / "energy_uj").write_text(str(values))
    return domain


def test_rapl_counter_with_wraparound(tmp_path):
    domain = fake_powercap(tmp_path, 900_000_000, max_range=1_000_000_000)
    rapl = energy.Rapl(tmp_path)
    rapl.start()
    (domain / "energy_uj").write_text("100000000")  # wrapped: 0.1e9 + 1e9 - 0.9e9 = 0.2e9 uJ
    assert rapl.stop() == pytest.approx(200.0)


def test_rapl_absent_is_unavailable(tmp_path):
    with energy.measure("inference", meters=[energy.Rapl(tmp_path / "none"), energy.CpuTimeModel()]) as window:
        pass
    assert window.readings[0]["joules"] is None and "no RAPL package domains" in window.readings[0]["method"]


def test_t_interval_by_hand():
    mean, half = energy.t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.302653 / 3 ** 0.5, rel=1e-5)
    assert energy.t_interval([5.0]) == (5.0, None)


def test_measure_per_item_chunks_warm_up_and_interval():
    calls = []

    def work(part):
        calls.append(list(part))
        return [x * 2 for x in part]

    nvml = FakeMeter("nvml", [0, 1, 4, 8, 10, 16, 20, 28])  # warm-up window (not kept); chunks of 2, 1, 2 -> 4, 6, 8 J
    outputs, summary = energy.measure_per_item("inference", list(range(5)), work, chunks=3, warmup=1,
                                               meters=[nvml, energy.CpuTimeModel()])
    assert calls[0] == [0] and calls[1:] == [[0, 1], [2], [3, 4]]  # warm-up first, unmeasured; 3 chunks
    assert outputs == [[0, 2], [4], [6, 8]]
    gpu = summary["readings"][0]
    assert gpu["joules"] == pytest.approx(18.0) and gpu["repeats"] == 3
    assert gpu["joules_per_item"] == pytest.approx((4 / 2 + 6 / 1 + 8 / 2) / 3)
    assert gpu["joules_per_item_ci95"] > 0
    metrics = energy.ticket_metrics(summary)
    assert metrics["joules_per_ticket"] == gpu["joules_per_item"] and metrics["energy_repeats"] == 3
    assert metrics["energy_method"] == energy.NVML_METHOD
    assert summary["meter_disagreement"] is not None


def test_summary_keeps_unavailable_meters_unavailable():
    broken = FakeMeter("nvml", [0, 0, 0, RuntimeError("x"), 0, 1])
    _, summary = energy.measure_per_item("inference", [1, 2], lambda p: p, chunks=2, warmup=0,
                                         meters=[broken, energy.CpuTimeModel()])
    assert summary["readings"][0]["joules"] is None and "unavailable" in summary["readings"][0]["method"]
    assert energy.ticket_metrics(summary)["energy_method"] == energy.CPU_MODEL_METHOD


def test_per_item_from_a_single_window_carries_method_and_repeats():
    with energy.measure("finetune", meters=[FakeMeter("nvml", [0, 30]), energy.CpuTimeModel()]) as window:
        pass
    assert energy.per_item(window, "step", 3) == {"joules_per_step": 10.0, "joules_per_step_ci95": None,
                                                   "energy_method": energy.NVML_METHOD, "energy_repeats": 1}
    broken = FakeMeter("nvml", [0, RuntimeError("x")])
    with energy.measure("x", meters=[broken]) as window:
        pass
    assert energy.per_item(window, "ticket", 2)["joules_per_ticket"] is None


def test_no_emissions_file_in_the_working_directory():
    assert not os.path.exists("emissions.csv")


def test_measure_per_item_aligns_chunks_to_whole_batches():
    calls = []
    energy.measure_per_item("inference", list(range(21)), lambda p: calls.append(list(p)), chunks=3, warmup=0,
                            meters=[energy.CpuTimeModel()], align=4)
    assert [len(c) for c in calls] == [8, 8, 5] and sum(calls, []) == list(range(21))  # 6 batches of 4 (last: 1)
    calls.clear()
    energy.measure_per_item("inference", list(range(5)), lambda p: calls.append(list(p)), chunks=3, warmup=0,
                            meters=[energy.CpuTimeModel()], align=8)
    assert calls == [list(range(5))]  # one batch: one window


def test_part_of_a_window_apportions_its_readings_by_time_and_says_so():
    window = energy.Window("finetune", duration_s=10.0, cpu_s=18.0, readings=[
        {"meter": "nvml", "method": energy.NVML_METHOD, "joules": 300.0, "duration_s": 10.0},
        {"meter": "rapl", "method": "rapl unavailable: no counter", "joules": None, "duration_s": 10.0}])
    training = window.part(7.5, "training steps")
    assert training.joules() == pytest.approx(225.0) and training.duration_s == pytest.approx(7.5)
    assert training.method() == energy.NVML_METHOD + "; training steps: 75% of the window's time, joules apportioned by time"
    assert training.readings[1]["joules"] is None  # unknown stays unknown
    assert energy.per_item(training, "training_token", 45)["joules_per_training_token"] == pytest.approx(5.0)
    assert window.joules() == 300.0  # the window itself is unchanged


def test_measure_interleaved_runs_the_works_on_the_same_chunks_in_alternating_order_and_cancels_a_drift():
    """Three works costing 1, 2 and 3 units per item, on a machine that gets slower with every window: run one after
    the other they would measure far from 1:2:3; interleaved (A B C, C B A, ...), each round on the same chunk, exactly."""
    calls, state = [], {"units": 0.0, "windows": 0}

    class DriftingMeter:  # each window's joules: its work units x (1 + 0.2 x the windows measured so far)
        name = "nvml"

        def start(self):
            self.units0 = state["units"]

        def stop(self):
            state["windows"] += 1
            return (state["units"] - self.units0) * (1 + 0.2 * state["windows"])

    def work(key, cost):
        def run(part):
            calls.append((key, list(part)))
            state["units"] += cost * len(part)
        return run

    summaries = energy.measure_interleaved("x", {k: work(k, c) for k, c in (("a", 1.0), ("b", 2.0), ("c", 3.0))},
                                           list(range(8)), rounds=4, warmup=1, meters=[DriftingMeter(), energy.CpuTimeModel()])
    assert calls[:3] == [("a", [0]), ("b", [0]), ("c", [0])]  # warm-ups, in one window not kept (window 1)
    assert calls[3:9] == [("a", [0, 1]), ("b", [0, 1]), ("c", [0, 1]), ("c", [2, 3]), ("b", [2, 3]), ("a", [2, 3])]
    assert [k for k, _ in calls[9:]] == list("abccba") and [p for _, p in calls[9:]] == [[4, 5]] * 3 + [[6, 7]] * 3
    a, b, c = (summaries[k]["readings"][0] for k in "abc")
    assert a["repeats"] == 4 and a["joules_per_item_rounds"] == pytest.approx([1.4, 2.4, 2.6, 3.6])  # windows 2, 7, 8, 13
    assert b["joules_per_item"] / a["joules_per_item"] == pytest.approx(2.0)  # the drift cancels
    assert c["joules_per_item"] / a["joules_per_item"] == pytest.approx(3.0)
    differences = [y - x for x, y in zip(a["joules_per_item_rounds"], b["joules_per_item_rounds"])]
    assert energy.paired_ci95(b["joules_per_item_rounds"], a["joules_per_item_rounds"]) == pytest.approx(
        energy.t_interval(differences)[1])
    assert math.isnan(energy.paired_ci95([1.0, 2.0], [1.0])) and math.isnan(energy.paired_ci95(None, [1.0, 2.0]))
    assert len({summaries[k]["measurement"] for k in "abc"}) == 1  # one id per call, another call another id
    again = energy.measure_interleaved("x", {"a": work("a", 1.0)}, [0, 1], rounds=2, meters=[energy.CpuTimeModel()])
    assert again["a"]["measurement"] != summaries["a"]["measurement"]


def test_a_method_that_read_nothing_is_neither_metered_nor_modelled():
    unavailable = "nvml unavailable: no NVIDIA driver"
    assert energy.how_obtained([energy.METHODS["codecarbon"], unavailable]) == "modelled"
    assert energy.how_obtained([energy.NVML_METHOD, unavailable]) == "metered"
    assert energy.how_obtained([energy.NVML_METHOD, energy.CPU_MODEL_METHOD]) == "partly modelled"
    assert energy.how_obtained(["unavailable"]) is None
