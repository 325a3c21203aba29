"""The run directory's file names, written once (see DESIGN.md):

    RUN/config.yaml        the TrainConfig, re-runnable
    RUN/model.safetensors  best weights (normalization included as buffers)
    RUN/last.safetensors   latest weights + optimizer/scheduler/RNG state, for --resume
    RUN/meta.json          task, model name and kwargs, classes, input shape, epoch, metric, sha256
    RUN/history.jsonl      one JSON line per epoch
    RUN/metrics.json       final evaluation (and attacks, explanations' scores ...)
    RUN/sections.json      the report sections that tasks, explain and attack added
    RUN/figures/           PNG figures
    RUN/report.html        self-contained report
    RUN/.lock              held (flock) by the one process that writes the run
    RUN/model.next.safetensors  new best weights between their write and meta.json's

Only `cnnlab.runs` knows these names; other packages use its functions or
these constants.
"""

CONFIG = "config.yaml"
BEST = "model.safetensors"
LAST = "last.safetensors"
META = "meta.json"
HISTORY = "history.jsonl"
METRICS = "metrics.json"
SECTIONS = "sections.json"
FIGURES = "figures"
REPORT = "report.html"
LOCK = ".lock"
BEST_PENDING = "model.next.safetensors"
