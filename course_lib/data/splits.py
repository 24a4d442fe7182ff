"""A validation split carved from the training data, made the same way in every notebook.

Choosing anything (epochs, thresholds, learning rates) or watching progress during training
is done on the validation split; the test split is touched once, at the end.
"""

from __future__ import annotations

import torch

__all__ = ["train_val_split"]


def train_val_split(labels: torch.Tensor, val_fraction: float = 0.1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Stratified split of ``labels (N,)`` into sorted index tensors ``(train, val)``.

    Each class gives ``round(val_fraction * n_class)`` of its ``n_class`` examples to the
    validation split (at least one, and never all of them), chosen with a generator seeded by
    ``seed``: the same labels and seed give the same split on every machine.
    """
    labels = torch.as_tensor(labels)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError(f"expected a non-empty 1-D tensor of labels, got shape {tuple(labels.shape)}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    generator = torch.Generator().manual_seed(seed)
    val = []
    for c in torch.unique(labels):
        members = torch.nonzero(labels == c).flatten()  # (n_class,)
        if len(members) < 2:
            raise ValueError(f"class {int(c)} has {len(members)} example(s); a split needs at least 2 per class")
        n_val = min(len(members) - 1, max(1, round(val_fraction * len(members))))
        val.append(members[torch.randperm(len(members), generator=generator)[:n_val]])
    val_index = torch.cat(val).sort().values
    is_val = torch.zeros(len(labels), dtype=torch.bool)
    is_val[val_index] = True
    return torch.nonzero(~is_val).flatten(), val_index
