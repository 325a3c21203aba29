"""Training recipes the benchmarks share (plain dictionaries: no cnnlab import).

``TUTORIAL_RECIPE`` is the PyTorch MNIST example's recipe in cnnlab's Trainer
(``benchmarks/lenet.py``).  ``PREVIOUS_DEFAULTS`` is the recipe the benchmarks
were measured with before 2026-12-01.

Until then ``TrainConfig``'s defaults were this recipe; on 2026-12-01 they
became the 11-epoch one that meets the foundation issue's time-to-accuracy
target (``benchmarks/lenet.py``).  The benchmarks whose results in RESULTS.md
were measured with the earlier defaults start from this dictionary, so that
their commands keep reproducing those results.
"""

PREVIOUS_DEFAULTS = dict(
    epochs=30,
    batch_size=64,
    optimizer="adam",
    lr=2e-3,
    scheduler="cosine",
    warmup_epochs=0.0,
    label_smoothing=0.1,
    augment=["crop:2"],
)

# The PyTorch MNIST example's recipe: Adadelta 1.0, StepLR 0.7 per epoch, batch 64.
TUTORIAL_RECIPE = dict(
    optimizer="adadelta",
    lr=1.0,
    scheduler="step",
    step_epochs=1,
    gamma=0.7,
    batch_size=64,
    warmup_epochs=0.0,
    augment=[],
    label_smoothing=0.0,
)
