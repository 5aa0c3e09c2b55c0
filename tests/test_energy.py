"""Measurement windows: the CPU-time model for real, NVML with a mocked counter, and failure -> unavailable."""
import pytest

from helpers import energy


def busy(seconds=0.2):
    import time

    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_cpu_model_reading_has_method_and_positive_joules():
    with energy.measure("inference") as window:
        busy()
    (reading,) = window.readings
    assert reading["method"] == energy.CPU_MODEL_METHOD and "modelled" in reading["method"]
    assert reading["joules"] == pytest.approx(window.cpu_s * energy.WATTS_PER_THREAD)
    assert reading["joules"] >= 0.2 * energy.WATTS_PER_THREAD * 0.9
    assert reading["duration_s"] > 0 and window.joules() == reading["joules"]


class FakeCounter:
    def __init__(self, values):
        self.values = iter(values)

    def millijoules(self):
        value = next(self.values)
        if isinstance(value, Exception):
            raise value
        return value


def test_nvml_counter_difference_becomes_joules(monkeypatch):
    monkeypatch.setattr(energy, "_nvml_counter", lambda: (FakeCounter([1_000, 51_000]), None))
    monkeypatch.setattr(energy, "_cuda_sync", lambda: None)
    with energy.measure("inference") as window:
        pass
    nvml, cpu = window.readings
    assert nvml["method"] == energy.NVML_METHOD and nvml["joules"] == pytest.approx(50.0)
    assert window.joules() == pytest.approx(50.0) and cpu["method"] == energy.CPU_MODEL_METHOD


def test_meter_failing_mid_window_is_unavailable_not_zero(monkeypatch):
    monkeypatch.setattr(energy, "_nvml_counter", lambda: (FakeCounter([1_000, RuntimeError("GPU lost")]), None))
    monkeypatch.setattr(energy, "_cuda_sync", lambda: None)
    with energy.measure("inference") as window:
        pass
    nvml, cpu = window.readings
    assert nvml["joules"] is None and nvml["method"].startswith("nvml unavailable") and "GPU lost" in nvml["method"]
    assert window.joules() == cpu["joules"]  # falls back to the modelled figure, labelled as such


def test_gpu_without_readable_counter_says_why(monkeypatch):
    monkeypatch.setattr(energy, "_nvml_counter", lambda: (None, "NVMLError: not supported"))
    monkeypatch.setattr(energy, "_cuda_sync", lambda: None)
    with energy.measure("inference") as window:
        pass
    assert window.readings[0] == {"method": "nvml unavailable: NVMLError: not supported", "joules": None,
                                  "duration_s": window.duration_s}
