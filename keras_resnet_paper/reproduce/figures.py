"""The paper's figures from a grid's runs, as PNG: error curves in panels like Fig. 4 (plain,
ResNet) and Fig. 6 (plain, ResNet, ResNet-110 against ResNet-1202), iterations on x and error % on
y, training error thin and dashed, test error bold; Fig. 7's layer responses in layer order and
sorted (docs/paper.md, 'ImageNet results (Tables 2-5, Fig. 4)', 'CIFAR-10 results (Table 6,
Fig. 6)', 'Layer responses (Fig. 7)').
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from keras_resnet_paper.atomic_files import replacing
from keras_resnet_paper.reproduce.results import NetSummary

__all__ = ["plot_error_panels", "plot_responses"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt

    return plt


def _draw_panel(ax, title: str, keys: Sequence[str], summaries: Mapping[str, NetSummary], scale: float) -> bool:
    """One panel; False when none of its nets has a curve yet."""
    import matplotlib

    drawn = False
    colours = matplotlib.colormaps["tab10"]
    for i, key in enumerate(keys):
        summary = summaries.get(key)
        result = summary.first() if summary else None
        if result is None or not result.history:
            continue
        label = summary.net.label + ("" if result.finished else " (unfinished)")
        x = [row["iteration"] / scale for row in result.history]
        for column, style, width, suffix in (("top1_error", "--", 0.9, "train"), ("val_top1_error", "-", 2.0, "test")):
            y = [100.0 * row[column] if column in row else float("nan") for row in result.history]
            ax.plot(x, y, style, lw=width, color=colours(i % 10), label=f"{label} {suffix}")
        drawn = True
    ax.set_title(title, fontsize=10)
    if not drawn:
        ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes, color="grey")
    return drawn


def plot_error_panels(
    panels: Sequence[tuple[str, Sequence[str]]], summaries: Mapping[str, NetSummary], path: str, title: str = ""
) -> str:
    """Error against iterations, one panel per (title, net keys), each net's first finished run."""
    plt = _pyplot()
    panels = [(t, keys) for t, keys in panels if any(k in summaries for k in keys)]  # drop panels of nets not planned
    last = [r.history[-1]["iteration"] for s in summaries.values() if (r := s.first()) and r.history]
    scale = 1e4 if last and max(last) >= 2e4 else 1.0
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8), dpi=110, squeeze=False)
    for ax, (panel_title, keys) in zip(axes[0], panels):
        if _draw_panel(ax, panel_title, keys, summaries, scale):
            ax.legend(fontsize=6.5, ncol=2)
        ax.set_xlabel("iter. (1e4)" if scale != 1 else "iter.")
        ax.set_ylabel("error (%)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with replacing(path, suffix=".png") as tmp:  # shards finishing together each write a whole figure
        fig.savefig(tmp)
    plt.close(fig)
    return path


def plot_responses(responses: Mapping[str, Sequence[float]], path: str, title: str = "") -> str:
    """Fig. 7: the std of each 3x3 layer's response, in layer order (top) and sorted (bottom)."""
    from keras_resnet_paper.evaluation.layer_responses import plot_layer_responses

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return plot_layer_responses(dict(responses), path, title=title or None)
