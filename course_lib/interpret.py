"""Where does a classifier look? Saliency maps and Grad-CAM, and a heat-map overlay.

Notation (for one image ``x`` and the score ``y^c``, the *logit* of class ``c``):

* saliency (Simonyan, Vedaldi and Zisserman 2014): ``M_ij = max_ch |dy^c / dx_{ch,i,j}|``,
  the size of the gradient of the score with respect to each input pixel;
* Grad-CAM (Selvaraju et al. 2017): with ``A^k`` the ``k``-th channel of a convolutional
  layer's output, ``alpha_k = mean_ij dy^c / dA^k_ij`` (eq. 1) and
  ``L = ReLU(sum_k alpha_k A^k)`` (eq. 2), upsampled to the input size.

Both functions compute gradients with ``torch.autograd.grad`` for the tensors they need
only: the ``.grad`` of the model's parameters is left exactly as it was, so they can be
called in the middle of training. They run the model in eval mode (BatchNorm uses its
running statistics and does not update them) and restore the previous mode afterwards.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["grad_cam", "overlay_heatmap", "saliency"]


def _check_images(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"expected images of shape (B, C, H, W), got {shape}")


def _class_scores(logits: torch.Tensor, target: int | torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick ``logits[b, target[b]]`` -> ``(B,)`` scores and the ``(B,)`` targets used.

    ``target``: an int (same class for every image), a ``(B,)`` tensor of classes, or
    ``None`` for each image's predicted class.
    """
    if logits.ndim != 2:
        raise ValueError(f"the model must return (B, num_classes) logits, got {tuple(logits.shape)}")
    batch, num_classes = logits.shape
    if target is None:
        target = logits.argmax(dim=1)
    target = torch.as_tensor(target, device=logits.device, dtype=torch.long)
    if target.ndim == 0:
        target = target.expand(batch)
    if target.shape != (batch,):
        raise ValueError(f"expected an int or ({batch},) targets, got shape {tuple(target.shape)}")
    if (target < 0).any() or (target >= num_classes).any():
        raise ValueError(f"targets must be in [0, {num_classes - 1}], got {target.tolist()}")
    return logits.gather(1, target[:, None]).squeeze(1), target  # (B,)


def saliency(model: nn.Module, images: torch.Tensor, target: int | torch.Tensor | None = None) -> torch.Tensor:
    """Vanilla gradient saliency: ``|d logit_target / d image|``, maximum over colour channels.

    Args:
        model: maps ``(B, C, H, W)`` images to ``(B, num_classes)`` logits.
        images: ``(B, C, H, W)`` float tensor, preprocessed as the model expects.
        target: class per image (int or ``(B,)``); ``None`` = the predicted class.

    Returns:
        ``(B, H, W)`` non-negative tensor (not normalised), detached, on ``images.device``.
    """
    _check_images(images)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            x = images.detach().clone().requires_grad_(True)
            scores, _ = _class_scores(model(x), target)
            # the images of a batch do not interact in eval mode: d(sum of scores)/dx_b = d score_b/dx_b
            (grad,) = torch.autograd.grad(scores.sum(), x)  # (B, C, H, W)
    finally:
        model.train(was_training)
    return grad.abs().amax(dim=1)  # (B, H, W)


def grad_cam(model: nn.Module, layer: nn.Module, images: torch.Tensor,
             target: int | torch.Tensor | None = None) -> torch.Tensor:
    """Grad-CAM heat maps of ``layer`` for the target class, upsampled to the input size.

    A forward hook on ``layer`` records its output ``A`` (``(B, K, h, w)``) during one forward
    pass; ``torch.autograd.grad`` then gives ``dy^c/dA``, the gradient a backward hook on
    ``layer`` would see, without touching the parameters' ``.grad``. The hook is removed
    before the function returns, also when it fails.

    Args:
        model: maps ``(B, C, H, W)`` images to ``(B, num_classes)`` logits.
        layer: a module of ``model`` that runs once per forward pass and outputs
            ``(B, K, h, w)`` feature maps, typically the last convolutional stage
            (``model.layer4`` for a ResNet).
        images: ``(B, C, H, W)`` float tensor, preprocessed as the model expects.
        target: class per image (int or ``(B,)``); ``None`` = the predicted class.

    Returns:
        ``(B, H, W)`` maps in [0, 1]: each divided by its maximum (all zeros when no
        location speaks for the class), detached, on ``images.device``.
    """
    _check_images(images)
    if not any(m is layer for m in model.modules()):
        raise ValueError(f"layer {type(layer).__name__} is not a submodule of the model")
    outputs: list[torch.Tensor] = []

    def record(module, inputs, output):
        outputs.append(output)

    handle = layer.register_forward_hook(record)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            # the input requires grad so that A has a graph even when the backbone is frozen
            x = images.detach().clone().requires_grad_(True)
            scores, _ = _class_scores(model(x), target)
            if len(outputs) != 1:
                raise ValueError(f"the layer ran {len(outputs)} times in one forward pass; pick a module "
                                 "that runs exactly once, such as model.layer4 of a ResNet")
            activation = outputs[0]
            if not isinstance(activation, torch.Tensor) or activation.ndim != 4:
                shape = tuple(activation.shape) if isinstance(activation, torch.Tensor) else type(activation).__name__
                raise ValueError(f"the layer must output (B, K, h, w) feature maps, got {shape}")
            (grad,) = torch.autograd.grad(scores.sum(), activation)  # (B, K, h, w)
    finally:
        handle.remove()
        model.train(was_training)
    with torch.no_grad():
        alpha = grad.mean(dim=(2, 3), keepdim=True)  # (B, K, 1, 1), eq. 1
        cam = F.relu((alpha * activation).sum(dim=1, keepdim=True))  # (B, 1, h, w), eq. 2
        cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)
        cam = cam.squeeze(1)  # (B, H, W)
        peak = cam.flatten(1).amax(dim=1).clamp_min(1e-12)  # (B,)
        cam = (cam / peak[:, None, None]).clamp(0, 1)
    return cam.detach()


def overlay_heatmap(image: torch.Tensor, heatmap: torch.Tensor, alpha: float = 0.5,
                    cmap: str = "jet") -> np.ndarray:
    """Blend a heat map over an image for ``plt.imshow``.

    Args:
        image: ``(3, H, W)`` or ``(1, H, W)`` float tensor in [0, 1] (un-normalised).
        heatmap: ``(H, W)`` non-negative tensor; scaled to [0, 1] by its maximum.
        alpha: weight of the heat map (0 = image only, 1 = heat map only).
        cmap: a matplotlib colour map name.

    Returns:
        ``(H, W, 3)`` float array in [0, 1].
    """
    import matplotlib

    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"expected a (3, H, W) or (1, H, W) image, got {tuple(image.shape)}")
    if heatmap.shape != image.shape[1:]:
        raise ValueError(f"expected a heat map of shape {tuple(image.shape[1:])}, got {tuple(heatmap.shape)}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    rgb = image.detach().cpu().float().expand(3, -1, -1).permute(1, 2, 0).numpy()  # (H, W, 3)
    heat = heatmap.detach().cpu().float()
    heat = (heat / heat.max().clamp_min(1e-12)).clamp(0, 1).numpy()
    coloured = matplotlib.colormaps[cmap](heat)[..., :3]  # (H, W, 3)
    return np.clip((1 - alpha) * rgb + alpha * coloured, 0, 1)
