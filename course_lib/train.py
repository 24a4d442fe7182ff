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


# =============================================================================================
# GAN step helpers (notebook 09)
# =============================================================================================
# One GAN iteration is two separate optimisation steps, each with its own zero_grad, forward,
# loss, backward and step:
#
#   1. discriminator: L_D on D(real) and D(fake.detach())  -> gradients reach D only
#   2. generator:     L_G on D(G(z)) with D's parameters frozen -> gradients reach G only
#
# The classic bug backpropagates both losses through one un-detached fake and steps both
# optimizers: the second backward fails ("backward through the graph a second time"), and
# with retain_graph=True each network is updated with the sum of both losses' gradients.

from .losses import gan_d_loss, gan_g_loss  # noqa: E402  (imported here to keep this section self-contained)


def _check_optimizer_owns(optimizer: torch.optim.Optimizer, model: nn.Module, opt_name: str, model_name: str) -> None:
    """Raise unless every parameter ``optimizer`` updates belongs to ``model``."""
    own = {id(p) for p in model.parameters()}
    foreign = sum(1 for group in optimizer.param_groups for p in group["params"] if id(p) not in own)
    if foreign:
        raise ValueError(f"{opt_name} updates {foreign} parameter tensor(s) that are not {model_name}'s; "
                         f"expected an optimizer built from {model_name}.parameters() only")


def _apply(model: nn.Module, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """``model(x)``, or ``model(x, labels)`` for a class-conditional GAN."""
    return model(x) if labels is None else model(x, labels)


def discriminator_step(D: nn.Module, G: nn.Module, real: torch.Tensor, z: torch.Tensor,
                       opt_D: torch.optim.Optimizer, loss_fn: Callable = gan_d_loss,
                       labels: torch.Tensor | None = None) -> dict[str, float]:
    """One discriminator update: ``L_D(D(real), D(G(z)))`` with G's output detached.

    The fakes are generated under ``torch.no_grad()``, so the loss's graph never reaches G
    and G's gradients and parameters are untouched; ``opt_D`` is zeroed, the loss
    backpropagated and ``opt_D`` stepped.

    Args:
        D: discriminator, images ``(B, C, H, W)`` in [-1, 1] -> logits ``(B,)``.
        G: generator, noise ``(B, latent_dim)`` -> images like ``real``.
        real: ``(B, C, H, W)`` real images in the range G produces ([-1, 1]).
        z: ``(B, latent_dim)`` noise, one row per real image (the last batch of an epoch may be smaller).
        opt_D: an optimizer over ``D.parameters()`` only.
        loss_fn: ``(real_logits, fake_logits) -> scalar``; default :func:`course_lib.losses.gan_d_loss`.
        labels: for a class-conditional GAN, the ``(B,)`` classes of ``real``; then D sees
            ``D(real, labels)`` and the fakes ``G(z, labels)`` carry the same labels.

    Returns:
        ``{"d_loss": L_D, "d_real": mean D(x), "d_fake": mean D(G(z))}`` (probabilities, for monitoring).
    """
    if z.shape[0] != real.shape[0]:
        raise ValueError(f"z has {z.shape[0]} rows but the real batch has {real.shape[0]} images; "
                         f"draw z with real.shape[0] rows")
    _check_optimizer_owns(opt_D, D, "opt_D", "D")
    with torch.no_grad():
        fake = _apply(G, z, labels)  # (B, C, H, W), no graph to G
    opt_D.zero_grad(set_to_none=True)
    real_logits = _apply(D, real, labels)  # (B,)
    fake_logits = _apply(D, fake.detach(), labels)  # (B,); detach() is a no-op here, kept to show the intent
    loss = loss_fn(real_logits, fake_logits)
    loss.backward()
    opt_D.step()
    return {"d_loss": loss.item(), "d_real": torch.sigmoid(real_logits.detach()).mean().item(),
            "d_fake": torch.sigmoid(fake_logits.detach()).mean().item()}


def generator_step(D: nn.Module, G: nn.Module, z: torch.Tensor, opt_G: torch.optim.Optimizer,
                   loss_fn: Callable = gan_g_loss, labels: torch.Tensor | None = None) -> dict[str, float]:
    """One generator update: ``L_G(D(G(z)))`` with D's parameters frozen.

    During the step every parameter of D has ``requires_grad=False`` (restored afterwards,
    also on an error), so the gradient flows *through* D into G but nothing is accumulated in
    D's ``.grad``; ``opt_G`` is zeroed, the loss backpropagated and ``opt_G`` stepped.

    Args:
        D: discriminator, images -> logits ``(B,)``.
        G: generator, noise ``(B, latent_dim)`` -> images.
        z: ``(B, latent_dim)`` noise (any batch size).
        opt_G: an optimizer over ``G.parameters()`` only.
        loss_fn: ``fake_logits -> scalar``; default the non-saturating
            :func:`course_lib.losses.gan_g_loss`.
        labels: for a class-conditional GAN, the ``(B,)`` classes to draw; the loss is then
            ``L_G(D(G(z, labels), labels))``.

    Returns:
        ``{"g_loss": L_G, "d_fake": mean D(G(z))}`` (before the update).
    """
    _check_optimizer_owns(opt_G, G, "opt_G", "G")
    d_params = list(D.parameters())
    flags = [p.requires_grad for p in d_params]
    for p in d_params:
        p.requires_grad_(False)
    try:
        opt_G.zero_grad(set_to_none=True)
        fake_logits = _apply(D, _apply(G, z, labels), labels)  # (B,): the graph goes through D's operations, not into its weights
        loss = loss_fn(fake_logits)
        loss.backward()
        opt_G.step()
    finally:
        for p, flag in zip(d_params, flags):
            p.requires_grad_(flag)
    return {"g_loss": loss.item(), "d_fake": torch.sigmoid(fake_logits.detach()).mean().item()}
