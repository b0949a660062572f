"""Device slots: one run per GPU (or per group of devices_per_run GPUs), the CPU as one slot."""

import pytest

from keras_resnet_paper.reproduce import devices


def test_parse_gpus():
    assert devices.parse_gpus("auto") is None
    assert devices.parse_gpus("none") == []
    assert devices.parse_gpus("0, 2,3") == ["0", "2", "3"]
    for bad in ("0,0", "gpu0", "1;2"):
        with pytest.raises(ValueError, match="gpus="):
            devices.parse_gpus(bad)


def test_slots():
    assert devices.device_slots([], 1) == [()]  # CPU: one run at a time
    assert devices.device_slots(["0", "1", "2", "3"], 1) == [("0",), ("1",), ("2",), ("3",)]
    assert devices.device_slots(["0", "1", "2", "3", "4"], 2) == [("0", "1"), ("2", "3")]  # GPU 4 left idle
    with pytest.raises(ValueError, match="devices_per_run=3 but only 2 GPU"):
        devices.device_slots(["0", "1"], 3)
    with pytest.raises(ValueError, match="devices_per_run=0"):
        devices.device_slots(["0"], 0)


def test_slot_environment_shows_only_the_slots_gpus():
    assert devices.slot_environment(("2", "3"), {"PATH": "/bin"}) == {"PATH": "/bin", "CUDA_VISIBLE_DEVICES": "2,3"}
    assert devices.slot_environment((), {"PATH": "/bin"}) == {"PATH": "/bin"}


def test_visible_gpus_follow_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,3")
    assert devices.visible_gpus() == ["1", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert devices.visible_gpus() == []


def test_hardware_description_on_a_cpu():
    hw = devices.describe_hardware(())
    assert hw["description"].startswith("CPU only:") and hw["cpu_cores"] >= 1 and hw["host"]
