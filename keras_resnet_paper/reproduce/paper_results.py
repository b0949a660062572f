"""The paper's numbers that a reproduction is set beside, one `PaperCell` per network.

docs/paper.md, 'ImageNet results (Tables 2-5, Fig. 4)' and 'CIFAR-10 results (Table 6, Fig. 6)'.
Errors are in %. The counts and the numbers `models/spec.py` already holds are taken from there.
"""

from __future__ import annotations

import dataclasses

from keras_resnet_paper import paper

__all__ = ["PaperCell", "TABLE1_GFLOPS", "TABLE2", "TABLE3", "TABLE6", "TABLE6_PARAMS_M", "FIG6_NOTES"]


@dataclasses.dataclass(frozen=True)
class PaperCell:
    """What the paper reports for one network: its top-1 (and top-5) error, and where it gives
    them, the mean and standard deviation over `runs` runs (the top-1 is then the best run)."""

    source: str
    top1: float | None
    top5: float | None = None
    mean: float | None = None
    std: float | None = None
    runs: int = 1
    protocol: str = "single view"

    def describe(self) -> str:
        """'6.43 (best of 5; mean 6.61 ± 0.16)', '24.52 / 7.46' or '–'."""
        if self.top1 is None:
            return "–"
        text = f"{self.top1:.2f}" + (f" / {self.top5:.2f}" if self.top5 is not None else "")
        if self.mean is not None:
            text += f" (best of {self.runs}; mean {self.mean:.2f} ± {self.std:.2f})"
        return text


def _table6(depth: int) -> PaperCell:
    if depth == 110:  # the best of five runs, and their mean ± std (Table 6)
        return PaperCell("Table 6", paper.CIFAR_PAPER_ERROR[depth], mean=6.61, std=0.16, runs=5)
    return PaperCell("Table 6", paper.CIFAR_PAPER_ERROR[depth])


#: Table 6 (CIFAR-10 test error) by net key; the paper gives no number for the plain nets.
TABLE6: dict[str, PaperCell] = {f"resnet{d}": _table6(d) for d in paper.CIFAR_PAPER_ERROR}

#: Table 2 (ImageNet validation, 10-crop, top-1); the ResNets use option A.
TABLE2: dict[str, PaperCell] = {
    "plain18": PaperCell("Table 2", 27.94, protocol="10-crop"),
    "plain34": PaperCell("Table 2", 28.54, protocol="10-crop"),
    "resnet18_A": PaperCell("Table 2", paper.IMAGENET_PAPER_ERROR[18][0], protocol="10-crop"),
    "resnet34_A": PaperCell("Table 2", 25.03, protocol="10-crop"),
}

#: Table 3 (ImageNet validation, 10-crop, top-1 / top-5).
TABLE3: dict[str, PaperCell] = {
    "plain34": PaperCell("Table 3", 28.54, 10.02, protocol="10-crop"),
    "resnet34_A": PaperCell("Table 3", 25.03, 7.76, protocol="10-crop"),
    "resnet34_B": PaperCell("Table 3", *paper.IMAGENET_PAPER_ERROR[34], protocol="10-crop"),
    "resnet34_C": PaperCell("Table 3", 24.19, 7.40, protocol="10-crop"),
    **{f"resnet{d}": PaperCell("Table 3", *paper.IMAGENET_PAPER_ERROR[d], protocol="10-crop") for d in (50, 101, 152)},
}

#: What Fig. 6 shows without a table (docs/paper.md, 'CIFAR-10 results (Table 6, Fig. 6)').
FIG6_NOTES = (
    "plain-110 stays above 60% error and is left out of the figure",
    "ResNet-1202 trains to under 0.1% training error yet tests at 7.93%, worse than ResNet-110 (overfitting)",
)

#: Table 1's multiply-adds (×10⁹), as the paper rounds them.
TABLE1_GFLOPS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}
#: Table 6's parameters (millions), as the paper rounds them.
TABLE6_PARAMS_M = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7, 1202: 19.4}
