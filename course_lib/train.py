"""The training loop, once the notebooks have taught it: ``fit`` and ``evaluate``.

The loop is the one every notebook writes by hand first::

    for images, labels in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()

``fit`` adds what a long run needs: a progress bar, a history of losses and accuracies,
evaluation after each epoch, and a checkpoint written atomically under ``runs/checkpoints``
that is resumed when present.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .utils import runs_dir

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _accuracy_count(logits: torch.Tensor, labels: torch.Tensor) -> int:
    """Correct predictions for classification logits ``(B, K)``; 0 for other outputs."""
    if logits.ndim == 2 and labels.ndim == 1 and not labels.is_floating_point():
        return int((logits.argmax(dim=1) == labels).sum())
    return 0


def train_one_epoch(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer,
                    loss_fn: LossFn = F.cross_entropy, device: torch.device | str = "cpu",
                    scheduler=None, progress: bool = True, description: str = "train") -> dict[str, float]:
    """One pass over ``loader``; returns mean ``loss`` and ``accuracy`` (for classification).

    ``scheduler`` (if any) is stepped after every batch: use per-step schedules such as
    ``OneCycleLR`` or a warm-up + cosine ``LambdaLR`` counted in steps.
    """
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    bar = tqdm(loader, desc=description, leave=False, disable=not progress)
    for inputs, targets in bar:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad(set_to_none=True)
        outputs = model(inputs)
        loss = loss_fn(outputs, targets)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        batch = inputs.shape[0]
        total_loss += loss.item() * batch
        correct += _accuracy_count(outputs.detach(), targets)
        seen += batch
        bar.set_postfix(loss=f"{total_loss / seen:.4f}")
    if seen == 0:
        raise ValueError("the training loader produced no batches")
    return {"loss": total_loss / seen, "accuracy": correct / seen}


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, loss_fn: LossFn = F.cross_entropy,
             device: torch.device | str = "cpu") -> dict[str, float]:
    """Mean ``loss`` and ``accuracy`` over ``loader`` in eval mode, without gradients."""
    was_training = model.training
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        outputs = model(inputs)
        batch = inputs.shape[0]
        total_loss += float(loss_fn(outputs, targets)) * batch
        correct += _accuracy_count(outputs, targets)
        seen += batch
    model.train(was_training)
    if seen == 0:
        raise ValueError("the evaluation loader produced no batches")
    return {"loss": total_loss / seen, "accuracy": correct / seen}


@torch.no_grad()
def predict(model: nn.Module, loader: Iterable, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenated model outputs and targets over ``loader`` (eval mode, on the CPU)."""
    was_training = model.training
    model.eval()
    outputs, targets = [], []
    for inputs, target in loader:
        outputs.append(model(inputs.to(device)).cpu())
        targets.append(target)
    model.train(was_training)
    return torch.cat(outputs), torch.cat(targets)


def checkpoint_path(name: str) -> Path:
    """``runs/checkpoints/<name>.pt``; ``name`` is a bare file stem such as ``"lenet5_mnist"``."""
    if not name or any(sep in name for sep in "/\\") or name.startswith("."):
        raise ValueError(f"checkpoint name must be a bare name like 'lenet5_mnist', got {name!r}")
    return runs_dir("checkpoints") / f"{name}.pt"


def save_checkpoint(path: Path, **state) -> None:
    """``torch.save`` to a temporary file, then rename: a crash never leaves half a checkpoint."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` (tensors and plain containers only)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def fit(model: nn.Module, train_loader: Iterable, optimizer: torch.optim.Optimizer, epochs: int,
        loss_fn: LossFn = F.cross_entropy, val_loader: Iterable | None = None,
        device: torch.device | str = "cpu", scheduler=None, checkpoint: str | None = None,
        progress: bool = True) -> dict[str, list[float]]:
    """Train for ``epochs`` epochs; returns the history (one value per epoch and key).

    History keys: ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy`` (with a
    ``val_loader``), ``lr`` and ``epoch_time_s``. With ``checkpoint="name"``, the model,
    optimizer, scheduler and history are saved to ``runs/checkpoints/name.pt`` after every
    epoch, and a later call with the same name resumes from there (delete the file to start
    again). Accuracies are 0 for outputs that are not ``(B, K)`` logits.
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    model.to(device)
    history: dict[str, list[float]] = defaultdict(list)
    start_epoch = 0
    path = checkpoint_path(checkpoint) if checkpoint else None
    if path is not None and path.exists():
        state = load_checkpoint(path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        history.update({k: list(v) for k, v in state["history"].items()})
        start_epoch = int(state["epoch"])
        print(f"resumed from {path} after epoch {start_epoch}")
    bar = tqdm(range(start_epoch, epochs), desc="epochs", disable=not progress,
               initial=start_epoch, total=epochs)
    for epoch in bar:
        started = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        train = train_one_epoch(model, train_loader, optimizer, loss_fn, device, scheduler,
                                progress, description=f"epoch {epoch + 1}")
        history["train_loss"].append(train["loss"])
        history["train_accuracy"].append(train["accuracy"])
        if val_loader is not None:
            val = evaluate(model, val_loader, loss_fn, device)
            history["val_loss"].append(val["loss"])
            history["val_accuracy"].append(val["accuracy"])
        history["lr"].append(lr)
        history["epoch_time_s"].append(time.perf_counter() - started)
        bar.set_postfix({k: f"{v[-1]:.4f}" for k, v in history.items() if k.endswith(("loss", "accuracy"))})
        if path is not None:
            save_checkpoint(path, model=model.state_dict(), optimizer=optimizer.state_dict(),
                            scheduler=None if scheduler is None else scheduler.state_dict(),
                            history=dict(history), epoch=epoch + 1)
    return dict(history)
