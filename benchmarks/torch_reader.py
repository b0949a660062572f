"""Reading a torch.save checkpoint: our reader (no torch) against `torch.load`, in the same run.

    python benchmarks/torch_reader.py                       # ResNet-152's state dict, both formats
    python benchmarks/torch_reader.py --model resnet50 --rounds 3

The state dict of the model (torchvision's names and shapes, random values) is written once per
format with `torch.save` (the zip archive and the legacy stream), then read in interleaved rounds
by `torch.load(weights_only=True)` and by `keras_resnet_paper.weights.read_torch_file`; the
figures are the median round and the ratio ours / torch's, with the peak memory our reader
allocated (NumPy's allocations, traced) against the file's size. Needs torch for the peer and to
write the files (`pip install torch`); without it the command says so in one line.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import tracemalloc

from absl import flags

from keras_resnet_paper import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "resnet152", "An ImageNet model of the package (its torchvision-layout state dict).")
flags.DEFINE_list("formats", ["zip", "legacy"], "torch.save formats to compare: zip, legacy.")
flags.DEFINE_integer("rounds", 5, "Interleaved timed rounds per reader.", lower_bound=1)


def _write(state, folder: str, fmt: str) -> str:
    import torch

    path = os.path.join(folder, f"{FLAGS.model}-{fmt}.pth")
    tensors = {name: torch.from_numpy(value) for name, value in state.items()}
    torch.save(tensors, path, _use_new_zipfile_serialization=fmt == "zip")
    return path


def _timed(read, path: str) -> float:
    start = time.perf_counter()
    read(path)
    return time.perf_counter() - start


def _peak_bytes(read, path: str) -> int:
    tracemalloc.start()
    read(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        raise cli.UsageError(f"unexpected argument {argv[1]!r}")
    if set(FLAGS.formats) - {"zip", "legacy"}:
        raise cli.UsageError(f"--formats={','.join(FLAGS.formats)}: give zip, legacy or both")
    try:
        import torch
    except ImportError:
        raise cli.UsageError(
            "this benchmark compares with torch.load and writes its files with torch.save: pip install torch"
        ) from None
    import keras_resnet_paper as krp
    from keras_resnet_paper.weights import read_torch_file, to_torchvision_state_dict

    state = to_torchvision_state_dict(krp.get_model(FLAGS.model, weights=None))
    print(f"{FLAGS.model}: {len(state)} tensors; torch {torch.__version__}; {os.cpu_count()} CPUs", flush=True)
    readers = {"torch.load": lambda p: torch.load(p, weights_only=True), "read_torch_file": read_torch_file}
    with tempfile.TemporaryDirectory() as folder:
        for fmt in FLAGS.formats:
            path = _write(state, folder, fmt)
            size = os.path.getsize(path)
            for read in readers.values():
                read(path)  # warm the page cache and the imports
            times = {name: [] for name in readers}
            for _ in range(FLAGS.rounds):
                for name, read in readers.items():
                    times[name].append(_timed(read, path))
            median = {name: statistics.median(values) for name, values in times.items()}
            peak = _peak_bytes(read_torch_file, path)
            print(
                f"{fmt:6s} {size / 2**20:7.1f} MiB  torch.load {median['torch.load']:.3f} s  "
                f"read_torch_file {median['read_torch_file']:.3f} s  ratio {median['read_torch_file'] / median['torch.load']:.2f}  "
                f"peak {peak / size:.2f}x the file",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    cli.run(main, doc=__doc__, prog=os.path.basename(sys.argv[0]))
