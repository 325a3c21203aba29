"""The initialisation experiment of the lecture as a folder (Glorot & Bengio 2010, Fig. 6;
He et al. 2015, Sec. 2.2): the per-layer standard deviation of the activations of
10 layers of 500 tanh or ReLU units on N(0, 1) inputs, under N(0, 0.01²), Xavier
and He initialisation (`cnnlab.train.diagnose.init_experiment`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cnnlab import runs
from cnnlab.report import build_report, figure_to_png
from cnnlab.report.diagnose_figures import plot_init_experiment
from cnnlab.train.diagnose import init_experiment

SECTION = "Initialisation experiment"


def init_experiment_folder(out: Path, seed: int = 0, samples: int = 1000) -> dict[str, Any]:
    """Write the table (std per layer and scheme), the figure and the report into ``out``."""
    results = init_experiment(samples=samples, seed=seed)
    labels = list(results)
    depth = len(results[labels[0]])
    metrics = {label: [s.std for s in stats] for label, stats in results.items()}
    out.mkdir(parents=True, exist_ok=True)
    runs.update_metrics(out, ("init",), metrics)
    rows = [[k + 1, *(float(f"{metrics[label][k]:.4g}") for label in labels)] for k in range(depth)]
    runs.add_table(
        out,
        SECTION,
        "activation_std",
        ["layer", *labels],
        rows,
        caption="Standard deviation of each layer's activations (10 layers of 500 units, "
        "inputs N(0, 1)): N(0, 0.01²) makes them vanish, Xavier keeps tanh's, He keeps ReLU's.",
    )
    runs.add_figure(
        out, SECTION, "init.png", figure_to_png(plot_init_experiment(results)), "Histograms"
    )
    build_report(out)
    return metrics
