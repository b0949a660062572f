"""The same models on each Keras backend: training step and inference, as ratios to TensorFlow.

One worker process per backend (Keras reads KERAS_BACKEND once, at import), all started and
compiled first, then timed in interleaved rounds (TensorFlow, JAX, PyTorch, TensorFlow, ...) so a
change of load on a shared machine falls on every backend alike; the median round is reported and
the ratio is backend time / TensorFlow time (1.45 = 1.45x slower than TensorFlow).

Workloads (what a user of the library runs): `train` is `model.fit` steps of the paper's SGD
(`PaperSGD`) on logits with cross-entropy, `infer` is `model.predict`; ResNet-50 at
`--image_size`² with `--batch_imagenet`, ResNet-20 at 32² with `--batch_cifar`. TensorFlow is
timed with XLA (`jit_compile=True`, the peer of JAX, which always compiles with XLA) and without;
PyTorch runs eagerly. `jax+onednn` is JAX with `XLA_FLAGS=--xla_cpu_use_onednn=true` (XLA's CPU
convolutions through oneDNN, as TensorFlow's own kernels are).

    python benchmarks/backend_throughput.py                      # all backends installed here
    python benchmarks/backend_throughput.py --backends tensorflow,jax --rounds 3 --steps 2

`--json PATH` also writes the rows.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time

#: (backend, jit_compile, environment) of each worker: TensorFlow with and without XLA, JAX with
#: XLA's own CPU kernels and with its oneDNN ones (an XLA flag, read when JAX starts)
WORKERS = {
    "tensorflow": ("tensorflow", False, {}),
    "tensorflow+xla": ("tensorflow", True, {}),
    "jax": ("jax", True, {}),
    "jax+onednn": ("jax", True, {"XLA_FLAGS": "--xla_cpu_use_onednn=true"}),
    "torch": ("torch", False, {}),
}
WORKLOADS = ("resnet50_infer", "resnet50_train", "resnet20_infer", "resnet20_train")


# ----------------------------------------------------------------------------------- the worker
def _build(name: str, args: dict):
    import keras
    import numpy as np

    from keras_resnet_paper.models.zoo import get_model
    from keras_resnet_paper.training.optimizer import PaperSGD

    model_name, mode = name.split("_")
    size, batch = (
        (args["image_size"], args["batch_imagenet"]) if model_name == "resnet50" else (32, args["batch_cifar"])
    )
    classes = 1000 if model_name == "resnet50" else 10
    model = get_model(model_name, input_shape=(size, size, 3), classes=classes, classifier_activation=None)
    model.compile(
        optimizer=PaperSGD(0.01, momentum=0.9, l2=1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=args["jit_compile"],
    )
    rng = np.random.default_rng(0)
    steps = args["steps"]
    x = rng.standard_normal((batch * steps, size, size, 3), dtype=np.float32)
    y = rng.integers(0, classes, batch * steps).astype("int32")
    if mode == "train":
        return lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    return lambda: model.predict(x, batch_size=batch, verbose=0)


def worker(args: dict) -> None:
    """Build and warm up every workload, then answer `NAME` lines on stdin with the seconds per step."""
    runs = {}
    for name in args["workloads"]:
        runs[name] = _build(name, args)
        runs[name]()  # compilation and the first step: not timed
    print("READY", flush=True)
    for line in sys.stdin:
        name = line.strip()
        start = time.perf_counter()
        runs[name]()
        print(f"TIME {(time.perf_counter() - start) / args['steps']}", flush=True)


# ----------------------------------------------------------------------------------- the driver
def _start(label: str, args: argparse.Namespace) -> subprocess.Popen:
    backend, jit, extra_env = WORKERS[label]
    config = {
        "workloads": args.workloads,
        "image_size": args.image_size,
        "batch_imagenet": args.batch_imagenet,
        "batch_cifar": args.batch_cifar,
        "steps": args.steps,
        "jit_compile": jit,
    }
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2", **extra_env}
    return subprocess.Popen(
        [sys.executable, __file__, "--worker", json.dumps(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def _ask(process: subprocess.Popen, line: str | None, expect: str) -> str:
    if line is not None:
        process.stdin.write(line + "\n")
        process.stdin.flush()
    answer = process.stdout.readline()
    if not answer.startswith(expect):
        raise RuntimeError(f"a benchmark worker stopped (exit {process.poll()}); see its messages above")
    return answer[len(expect) :].strip()


def run(args: argparse.Namespace) -> list[dict]:
    """Median seconds per step of every (worker, workload) over interleaved rounds, and the ratio
    to TensorFlow with XLA and without."""
    workers = {label: _start(label, args) for label in args.workers}
    try:
        for process in workers.values():
            _ask(process, None, "READY")
        times = {(label, name): [] for label in workers for name in args.workloads}
        for _ in range(args.rounds):
            for name in args.workloads:
                for label, process in workers.items():
                    times[label, name].append(float(_ask(process, name, "TIME ")))
    finally:
        for process in workers.values():
            process.stdin.close()
            process.wait(timeout=120)
    rows = []
    for (label, name), values in times.items():
        row = {"worker": label, "workload": name, "seconds_per_step": statistics.median(values), "rounds": values}
        for peer in ("tensorflow", "tensorflow+xla"):
            if (peer, name) in times:
                row[f"ratio_to_{peer}"] = row["seconds_per_step"] / statistics.median(times[peer, name])
        rows.append(row)
    return rows


def _table(rows: list[dict]) -> str:
    lines = ["| workload | backend | ms/step | ÷ TF | ÷ TF+XLA |", "|---|---|---|---|---|"]
    for r in rows:
        ratios = [f"{r[k]:.2f}" if k in r else "-" for k in ("ratio_to_tensorflow", "ratio_to_tensorflow+xla")]
        lines.append(f"| {r['workload']} | {r['worker']} | {1000 * r['seconds_per_step']:.1f} | {' | '.join(ratios)} |")
    return "\n".join(lines)


def _available() -> list[str]:
    return [label for label, (backend, _, _) in WORKERS.items() if importlib.util.find_spec(backend) is not None]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backends",
        default=",".join(_available()),
        help=f"comma-separated, from {list(WORKERS)} (default: those installed)",
    )
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help=f"comma-separated, from {list(WORKLOADS)}")
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--batch_imagenet", type=int, default=8)
    parser.add_argument("--batch_cifar", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return args
    args.workers = [w for w in args.backends.split(",") if w]
    args.workloads = [w for w in args.workloads.split(",") if w]
    bad = [w for w in args.workers if w not in WORKERS] + [w for w in args.workloads if w not in WORKLOADS]
    if bad:
        parser.error(f"unknown {bad}; backends are {list(WORKERS)}, workloads {list(WORKLOADS)}")
    missing = [w for w in args.workers if w not in _available()]
    if missing:
        parser.error(f'{missing} not installed here (pip install ".[jax]" or ".[torch]")')
    for name in ("image_size", "batch_imagenet", "batch_cifar", "steps", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name}={getattr(args, name)}: use 1 or more")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.worker:
        return worker(json.loads(args.worker))
    rows = run(args)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; median of {args.rounds} rounds")
    print(_table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
