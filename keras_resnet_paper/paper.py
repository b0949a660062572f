"""The paper's numbers that code checks against: parameter and FLOP counts of the nets of Table 1
and Sec. 4.2, and the errors the paper reports for them (Tables 2, 3 and 6; docs/paper.md).

A leaf module (it imports nothing), so the architecture tables (`models.spec`), the weights
registry (`weights.releases`) and the reproduction (`reproduce.paper_results`) read the same
numbers without importing one another. Architecture records carry no results.
"""

from __future__ import annotations

#: Trainable parameters with option B (docs/paper.md, 'ImageNet counts'; torchvision's counts).
IMAGENET_PARAMS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}
#: Multiply-adds in GFLOPs with the stride on the 1x1 (authors' release) and on the 3x3 ("v1.5").
IMAGENET_GFLOPS = {18: 1.81, 34: 3.66, 50: 3.86, 101: 7.57, 152: 11.28}
IMAGENET_GFLOPS_V1_5 = {50: 4.09, 101: 7.80, 152: 11.51}
#: Top-1 / top-5 error (%), 10-crop, Table 3 (ResNet-18 from Table 2, top-1 only; option B for 34).
IMAGENET_PAPER_ERROR = {
    18: (27.88, None),
    34: (24.52, 7.46),
    50: (22.85, 6.71),
    101: (21.75, 6.05),
    152: (21.43, 5.71),
}

#: CIFAR-10 trainable parameters with option A and test error (%) (Sec. 4.2, Table 6).
CIFAR_PARAMS = {
    20: 269_722,
    32: 464_154,
    44: 658_586,
    56: 853_018,
    110: 1_727_962,
    1202: 19_421_274,
}
CIFAR_PAPER_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93}
