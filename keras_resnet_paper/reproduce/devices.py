"""The hardware a grid runs on: GPUs split into slots of `devices_per_run`, and its description.

Several runs go side by side on several GPUs: each run is a subprocess that sees only its slot's
devices (CUDA_VISIBLE_DEVICES), so one device per run or, with devices_per_run=k, k devices that
the trainer's `--strategy auto` spreads one run over (mirrored). Without a GPU there is one slot:
runs go one after another, each using every CPU core.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Sequence

from keras_resnet_paper.machine import cpu_model

__all__ = ["parse_gpus", "visible_gpus", "device_slots", "slot_environment", "describe_hardware"]


def parse_gpus(text: str) -> list[str] | None:
    """ "auto" -> None (detect), "none" -> [], "0,1,3" -> ["0", "1", "3"]; ValueError otherwise."""
    text = str(text).strip().lower()
    if text == "auto":
        return None
    if text in ("none", ""):
        return []
    ids = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() for p in ids) or len(set(ids)) != len(ids):
        raise ValueError(f"gpus={text!r}: use 'auto', 'none' or distinct GPU indices such as 0,1,2,3.")
    return ids


def visible_gpus() -> list[str]:
    """The GPUs this process may use: CUDA_VISIBLE_DEVICES when set, else those `nvidia-smi` lists."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    return [line.strip() for line in _nvidia_smi("index") if line.strip().isdigit()]


def _nvidia_smi(query: str) -> list[str]:
    """Lines of `nvidia-smi --query-gpu=QUERY` (none without a driver)."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return out.stdout.splitlines() if out.returncode == 0 else []


def device_slots(gpus: Sequence[str], devices_per_run: int) -> list[tuple[str, ...]]:
    """GPU groups of `devices_per_run`, one run each at a time; [()] (the CPU) without GPUs."""
    if devices_per_run < 1:
        raise ValueError(f"devices_per_run={devices_per_run!r}: use 1 or more GPUs per run.")
    if not gpus:
        return [()]
    if devices_per_run > len(gpus):
        raise ValueError(f"devices_per_run={devices_per_run} but only {len(gpus)} GPU(s) ({','.join(gpus)}) to use.")
    return [tuple(gpus[i : i + devices_per_run]) for i in range(0, len(gpus) - devices_per_run + 1, devices_per_run)]


def slot_environment(slot: Sequence[str], base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a run on `slot`: only its GPUs visible (the CPU slot changes nothing)."""
    env = dict(os.environ if base is None else base)
    if slot:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(slot)
    return env


def _gpu_names(slot: Sequence[str]) -> list[str]:
    if not slot:
        return []
    names = dict(line.split(",", 1) for line in _nvidia_smi("index,name") if "," in line)
    return [names.get(i, "GPU").strip() for i in slot]


def describe_hardware(slot: Sequence[str] = ()) -> dict:
    """Host, CPU and the slot's GPUs, as the report prints them."""
    gpus = _gpu_names(slot)
    text = (
        ", ".join(f"{gpus.count(name)}× {name}" for name in sorted(set(gpus)))
        if gpus
        else (f"{len(slot)} GPU(s) {','.join(slot)}" if slot else f"CPU only: {os.cpu_count()} cores, {cpu_model()}")
    )
    return {
        "host": socket.gethostname(),
        "devices": list(slot),
        "gpus": gpus,
        "cpu_cores": os.cpu_count(),
        "cpu": cpu_model(),
        "description": text,
    }
