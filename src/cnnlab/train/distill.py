"""Knowledge distillation (Hinton, Vinyals & Dean 2015, "Distilling the knowledge in a
neural network", Sec. 2).

The student is trained on

    L = α · T² · KL(softmax(z_t / T) ‖ softmax(z_s / T)) + (1 − α) · CE(z_s, y)

where z_t and z_s are the teacher's and the student's logits and T the
temperature; the T² keeps the soft term's gradients on the scale of the hard
term's as T changes (Sec. 2.1).  The teacher is a trained run: it sees the
student's (augmented) batch, resized to its own input, and its classes are
matched to the data set's by name.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab import runs
from cnnlab.errors import DataError
from cnnlab.runs import fit_to_input


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    hard_loss: torch.Tensor,
    temperature: float,
    alpha: float,
) -> torch.Tensor:
    """α T² KL(p_teacher^T ‖ p_student^T) + (1 − α) · ``hard_loss`` (mean over the batch)."""
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=1),
        F.log_softmax(teacher_logits / temperature, dim=1),
        reduction="batchmean",
        log_target=True,
    )
    return alpha * temperature**2 * soft + (1 - alpha) * hard_loss


class Teacher(nn.Module):
    """A trained run as a frozen teacher: logits in the data set's class order."""

    def __init__(self, run_dir: str | os.PathLike, data_classes: list[str]):
        super().__init__()
        run = runs.load_run(run_dir)
        missing = [c for c in data_classes if c not in run.classes]
        if missing:
            raise DataError(
                f"The teacher in {run_dir} does not know the classes {missing} of the data set. "
                "Distil from a teacher trained on the same classes."
            )
        self.model = run.model.requires_grad_(False).eval()
        self.input_shape = run.input_shape
        self.register_buffer("order", torch.tensor([run.classes.index(c) for c in data_classes]))

    def train(self, mode: bool = True) -> Teacher:
        """The teacher stays in eval mode (fixed batch-norm statistics, no dropout)."""
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(fit_to_input(images, self.input_shape))[:, self.order]
