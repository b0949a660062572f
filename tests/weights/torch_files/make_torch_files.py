"""Writes the small torch.save files of tests/weights/test_torch_format.py (run with PyTorch
installed: `python tests/weights/torch_files/make_torch_files.py`; the files are committed, so
the tests need no torch). `expected.npz` holds the arrays each file must give."""

import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


class Payload:
    """What a hostile checkpoint carries: unpickling it would run a shell command."""

    def __reduce__(self):
        return (os.system, ("echo pwned > KRP_PWNED",))


def state_dict() -> dict:
    torch.manual_seed(0)
    shared = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    return {
        "conv.weight": torch.randn(2, 3, 3, 3),
        "bn.running_var": torch.rand(2, dtype=torch.float64) + 0.5,
        "half": torch.randn(5).half(),
        "bfloat": torch.randn(4).bfloat16(),
        "bn.num_batches_tracked": torch.tensor(7),  # 0-dim int64
        "mask": torch.tensor([True, False, True]),
        "ints": torch.arange(-3, 3, dtype=torch.int32),
        "view.transposed": shared.t(),  # stride (1, 4) into the shared storage
        "view.row": shared[1],  # offset 4 into it
        "view.column": shared[:, 2],  # offset 2, stride 4
    }


def main(folder: str = HERE) -> None:
    """Write the files into `folder` (this one by default)."""
    sd = state_dict()
    torch.save(sd, os.path.join(folder, "tiny_zip.pt"))
    torch.save(sd, os.path.join(folder, "tiny_legacy.pt"), _use_new_zipfile_serialization=False)
    wrapped = {"state_dict": {f"module.{k}": v for k, v in sd.items()}, "epoch": 3, "best_prec1": 91.5}
    torch.save(wrapped, os.path.join(folder, "wrapped_legacy.th"), _use_new_zipfile_serialization=False)
    torch.save(wrapped, os.path.join(folder, "wrapped_zip.bin"))
    torch.save({"conv.weight": sd["conv.weight"], "extra": Payload()}, os.path.join(folder, "hostile_zip.pth"))
    torch.save(
        {"conv.weight": sd["conv.weight"], "extra": Payload()},
        os.path.join(folder, "hostile_legacy.pth"),
        _use_new_zipfile_serialization=False,
    )
    expected = {k: (v.float() if v.dtype == torch.bfloat16 else v).numpy() for k, v in sd.items()}
    np.savez(os.path.join(folder, "expected.npz"), **expected)
    print(f"torch {torch.__version__}, Python {sys.version.split()[0]}: wrote", sorted(os.listdir(folder)))


if __name__ == "__main__":
    main()
