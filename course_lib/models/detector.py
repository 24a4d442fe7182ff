"""A compact one-stage, anchor-free detector: objects as points (CenterNet, Zhou et al. 2019).

Every object is represented by the centre of its box. The network looks at the image once and
predicts, on a feature map with stride ``s = 4`` (one cell per 4x4 pixels):

* a **heatmap** per class, ``(B, K, H/s, W/s)`` logits: "an object of class k is centred in this cell";
* the **box size** ``(log w, log h)`` of that object in units of ``s`` pixels, ``(B, 2, H/s, W/s)``;
* the **offset** of the exact centre inside the cell, in [0, 1), ``(B, 2, H/s, W/s)``
  (it undoes the rounding of the centre to a cell).

Decoding keeps the cells whose heatmap score is a local maximum in its 3x3 neighbourhood (a max
pooling replaces most of non-maximum suppression), takes the best ``max_detections``, and turns
each into a box ``centre ± size / 2``.

Notation (paper -> code)::

    Y_xyc    target heatmap        encode_targets(...)["heatmap"]      (B, K, h, w)
    Ŷ_xyc    predicted heatmap     sigmoid(outputs["heatmap"])
    p/R - p̃  centre offset         outputs["offset"]                   (B, 2, h, w)
    s_k      object size           stride * exp(outputs["size"])       (B, 2, h, w)
    L_k      focal loss (eq. 1)    focal_loss(...)

Differences from the paper, to stay small and CPU-friendly: a 4-stage conv-BN-ReLU backbone
with a top-down path (FPN-style) instead of an Hourglass or DLA-34 network; sizes regressed as
logarithms (scale-invariant L1) instead of raw pixels with weight 0.1; no test-time flips.

Typical use::

    model = CenterNet(num_classes=3)
    outputs = model(images)                          # images (B, 3, H, W) in [0, 1]
    losses = model.loss(outputs, targets)            # targets: list of dicts with boxes, labels
    losses["total"].backward()
    detections = model.predict(images)               # list of dicts: boxes, scores, labels
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import batched_nms

__all__ = ["CenterNet", "centernet_loss", "decode_detections", "encode_targets", "focal_loss"]


def conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution (no bias: BN has one), batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def _head(in_channels: int, out_channels: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, hidden, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(hidden, out_channels, 1))


class CenterNet(nn.Module):
    """Objects as points: ``(B, 3, H, W)`` images in [0, 1] -> heatmaps, sizes and offsets at stride 4.

    Args:
        num_classes: object classes ``K``, labelled ``1..K`` (0 is the background, as in torchvision).
        width: channels of the first stage; stages have ``width, 2w, 4w, 4w`` channels.
        prior: initial heatmap probability everywhere (the paper's bias init, -2.19 for 0.1), so that
            the loss of the first steps is not dominated by the many background cells.

    ``H`` and ``W`` must be multiples of 16 (the deepest stage has stride 16).
    """

    stride = 4

    def __init__(self, num_classes: int = 3, width: int = 32, prior: float = 0.1) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        w = width
        # backbone: strides 2, 4, 8, 16
        self.stage1 = nn.Sequential(conv_bn_relu(3, w, stride=2), conv_bn_relu(w, w))
        self.stage2 = nn.Sequential(conv_bn_relu(w, 2 * w, stride=2), conv_bn_relu(2 * w, 2 * w))
        self.stage3 = nn.Sequential(conv_bn_relu(2 * w, 4 * w, stride=2), conv_bn_relu(4 * w, 4 * w))
        self.stage4 = nn.Sequential(conv_bn_relu(4 * w, 4 * w, stride=2), conv_bn_relu(4 * w, 4 * w))
        # top-down path: upsample the coarse, context-rich maps and merge them with finer ones
        self.merge3 = conv_bn_relu(8 * w, 4 * w)  # cat(up(stage4), stage3) at stride 8
        self.merge2 = conv_bn_relu(6 * w, 2 * w)  # cat(up(merge3), stage2) at stride 4
        # prediction heads at stride 4
        self.heatmap_head = _head(2 * w, num_classes, 2 * w)
        self.size_head = _head(2 * w, 2, 2 * w)
        self.offset_head = _head(2 * w, 2, 2 * w)
        nn.init.constant_(self.heatmap_head[-1].bias, -math.log((1 - prior) / prior))

    def _check_images(self, images: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        if isinstance(images, (list, tuple)):
            shapes = {tuple(im.shape) for im in images}
            if len(shapes) != 1:
                raise ValueError(f"all images in a list must have one shape to be batched, got {sorted(shapes)}")
            images = torch.stack(list(images))  # (B, 3, H, W)
        if not isinstance(images, torch.Tensor):
            raise TypeError(f"expected a (B, 3, H, W) tensor or a list of (3, H, W) tensors, got {type(images).__name__}")
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
        if images.shape[-2] % 16 or images.shape[-1] % 16:
            raise ValueError(f"H and W must be multiples of 16, got {tuple(images.shape[-2:])}")
        if not images.is_floating_point():
            raise TypeError(f"expected float images in [0, 1], got {images.dtype} (use images.float() / 255)")
        return images

    def forward(self, images: torch.Tensor | Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Raw predictions: ``heatmap`` logits ``(B, K, H/4, W/4)``, ``size`` and ``offset`` ``(B, 2, H/4, W/4)``."""
        x = self._check_images(images) - 0.5  # centre the [0, 1] pixel values
        c1 = self.stage1(x)  # (B, w, H/2, W/2)
        c2 = self.stage2(c1)  # (B, 2w, H/4, W/4)
        c3 = self.stage3(c2)  # (B, 4w, H/8, W/8)
        c4 = self.stage4(c3)  # (B, 4w, H/16, W/16)
        p3 = self.merge3(torch.cat([F.interpolate(c4, scale_factor=2.0, mode="nearest"), c3], dim=1))  # (B, 4w, H/8, W/8)
        p2 = self.merge2(torch.cat([F.interpolate(p3, scale_factor=2.0, mode="nearest"), c2], dim=1))  # (B, 2w, H/4, W/4)
        return {"heatmap": self.heatmap_head(p2), "size": self.size_head(p2), "offset": self.offset_head(p2)}

    def loss(self, outputs: dict[str, torch.Tensor], targets: Sequence[dict]) -> dict[str, torch.Tensor]:
        """Training losses for ``outputs = self(images)``; see :func:`centernet_loss`."""
        return centernet_loss(outputs, targets, self.stride)

    def decode(self, outputs: dict[str, torch.Tensor], **kwargs) -> list[dict[str, torch.Tensor]]:
        """Detections from raw outputs; see :func:`decode_detections` for the keyword arguments."""
        return decode_detections(outputs, self.stride, **kwargs)

    @torch.no_grad()
    def predict(self, images: torch.Tensor | Sequence[torch.Tensor], **kwargs) -> list[dict[str, torch.Tensor]]:
        """Detections in eval mode, without gradients: one dict per image with ``boxes`` ``(N, 4)``
        xyxy pixels, ``scores`` ``(N,)`` in (0, 1] and ``labels`` ``(N,)`` in ``1..K``. The model's
        train/eval mode is restored afterwards."""
        was_training = self.training
        self.eval()
        try:
            images = self._check_images(images)
            detections = self.decode(self(images), image_size=tuple(images.shape[-2:]), **kwargs)
        finally:
            self.train(was_training)
        return detections


def encode_targets(targets: Sequence[dict], num_classes: int, feature_size: tuple[int, int],
                   stride: int = 4, min_sigma: float = 0.5) -> dict[str, torch.Tensor]:
    """What the network should predict for each image, on the ``(h, w) = feature_size`` grid.

    For each ground-truth box with centre ``c`` (pixels), the centre cell is ``p = floor(c / stride)``.

    Returns:
        heatmap: ``(B, K, h, w)`` in [0, 1]: a Gaussian bump ``exp(-|q - p|² / 2σ²)`` around each
            centre in its class channel (the maximum where bumps overlap), exactly 1 at ``p``;
            ``σ`` grows with the box (a sixth of its geometric-mean side in cells, >= ``min_sigma``).
        size: ``(B, 2, h, w)``: ``log(w / stride), log(h / stride)`` at the centre cells.
        offset: ``(B, 2, h, w)``: ``c / stride - p`` in [0, 1) at the centre cells.
        mask: ``(B, h, w)`` bool: the centre cells (where size and offset are supervised).
    """
    h, w = feature_size
    batch = len(targets)
    device = targets[0]["boxes"].device if batch else torch.device("cpu")
    heatmap = torch.zeros(batch, num_classes, h, w, device=device)
    size = torch.zeros(batch, 2, h, w, device=device)
    offset = torch.zeros(batch, 2, h, w, device=device)
    mask = torch.zeros(batch, h, w, dtype=torch.bool, device=device)
    ys = torch.arange(h, device=device, dtype=torch.float32)[:, None]  # (h, 1) cell rows
    xs = torch.arange(w, device=device, dtype=torch.float32)[None, :]  # (1, w) cell columns
    for b, target in enumerate(targets):
        boxes, labels = target["boxes"].float(), target["labels"]
        if boxes.ndim != 2 or boxes.shape[-1] != 4:
            raise ValueError(f"targets[{b}]['boxes']: expected shape (N, 4), got {tuple(boxes.shape)}")
        if len(labels) and (labels.min() < 1 or labels.max() > num_classes):
            raise ValueError(f"targets[{b}]['labels'] must be in 1..{num_classes}, got {labels.tolist()}")
        for (x1, y1, x2, y2), label in zip(boxes.tolist(), labels.tolist()):
            if x2 <= x1 or y2 <= y1:
                raise ValueError(f"targets[{b}]: expected x1 < x2 and y1 < y2 (xyxy), got {[x1, y1, x2, y2]}")
            cx, cy = (x1 + x2) / 2 / stride, (y1 + y2) / 2 / stride  # centre in cell units
            px, py = min(int(cx), w - 1), min(int(cy), h - 1)  # its cell
            bw, bh = (x2 - x1) / stride, (y2 - y1) / stride  # size in cell units
            sigma = max(math.sqrt(bw * bh) / 6, min_sigma)
            bump = torch.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2 * sigma**2))  # (h, w), 1 at (py, px)
            heatmap[b, label - 1] = torch.maximum(heatmap[b, label - 1], bump)
            size[b, :, py, px] = torch.tensor([math.log(bw), math.log(bh)])
            offset[b, :, py, px] = torch.tensor([cx - px, cy - py])
            mask[b, py, px] = True
    return {"heatmap": heatmap, "size": size, "offset": offset, "mask": mask}


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0) -> torch.Tensor:
    """Penalty-reduced pixel-wise focal loss (Zhou et al. 2019, eq. 1), averaged over objects.

    ``logits`` and ``target`` ``(B, K, h, w)``; cells with ``target == 1`` are the object centres.
    Confident, correct cells are down-weighted by ``(1 - p)^alpha`` (positives) or ``p^alpha``
    (negatives), and negatives near a centre by ``(1 - Y)^beta``, so a near miss costs little.
    """
    if logits.shape != target.shape:
        raise ValueError(f"logits and target must have one shape, got {tuple(logits.shape)} and {tuple(target.shape)}")
    p = torch.sigmoid(logits)
    log_p, log_not_p = F.logsigmoid(logits), F.logsigmoid(-logits)  # stable log(p), log(1 - p)
    positive = target.eq(1).float()
    pos_loss = -((1 - p) ** alpha) * log_p * positive
    neg_loss = -((1 - target) ** beta) * p**alpha * log_not_p * (1 - positive)
    num_objects = positive.sum().clamp(min=1)
    return (pos_loss.sum() + neg_loss.sum()) / num_objects


def centernet_loss(outputs: dict[str, torch.Tensor], targets: Sequence[dict], stride: int = 4,
                   size_weight: float = 1.0, offset_weight: float = 1.0) -> dict[str, torch.Tensor]:
    """Focal loss on the heatmaps plus L1 losses on log-size and offset at the object centres.

    Returns a dict of 0-d tensors: ``heatmap``, ``size``, ``offset`` and their weighted sum ``total``.
    """
    heatmap = outputs["heatmap"]
    if len(targets) != heatmap.shape[0]:
        raise ValueError(f"got {len(targets)} targets for a batch of {heatmap.shape[0]} images")
    encoded = encode_targets(targets, heatmap.shape[1], tuple(heatmap.shape[-2:]), stride)
    mask = encoded["mask"].to(heatmap.device)  # (B, h, w)
    n = mask.sum().clamp(min=1)

    def masked_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # pred, target (B, 2, h, w) -> mean |difference| over the centre cells and both channels
        return ((pred - target.to(pred.device)).abs() * mask[:, None]).sum() / (2 * n)

    losses = {
        "heatmap": focal_loss(heatmap, encoded["heatmap"].to(heatmap.device)),
        "size": masked_l1(outputs["size"], encoded["size"]),
        "offset": masked_l1(outputs["offset"], encoded["offset"]),
    }
    losses["total"] = losses["heatmap"] + size_weight * losses["size"] + offset_weight * losses["offset"]
    return losses


@torch.no_grad()
def decode_detections(outputs: dict[str, torch.Tensor], stride: int = 4, image_size: tuple[int, int] | None = None,
                      score_threshold: float = 0.05, max_detections: int = 50,
                      nms_threshold: float | None = None) -> list[dict[str, torch.Tensor]]:
    """Turn raw outputs into boxes: peaks of the heatmaps, then ``centre ± size / 2``.

    Args:
        outputs: ``{"heatmap": (B, K, h, w) logits, "size": (B, 2, h, w), "offset": (B, 2, h, w)}``.
        stride: pixels per cell.
        image_size: ``(H, W)`` to clip the boxes to (default ``(h * stride, w * stride)``).
        score_threshold: drop detections with a lower score (keep it low for mAP).
        max_detections: at most this many detections per image, the highest-scoring ones.
        nms_threshold: if given, run class-wise NMS with this IoU threshold after peak picking.

    Returns one dict per image: ``boxes`` ``(N, 4)`` xyxy float pixels, ``scores`` ``(N,)`` in
    [score_threshold, 1], ``labels`` ``(N,)`` int64 in ``1..K``, sorted by decreasing score.
    """
    scores = torch.sigmoid(outputs["heatmap"])  # (B, K, h, w)
    batch, num_classes, h, w = scores.shape
    if image_size is None:
        image_size = (h * stride, w * stride)
    # a cell is a peak if it is the maximum of its 3x3 neighbourhood (in its own class channel)
    peaks = scores == F.max_pool2d(scores, kernel_size=3, stride=1, padding=1)
    scores = scores * peaks
    k = min(max_detections, num_classes * h * w)
    top_scores, top_index = scores.flatten(1).topk(k, dim=1)  # (B, K*h*w) -> (B, k)
    labels = top_index // (h * w) + 1  # class channel -> label 1..K
    cell = top_index % (h * w)
    cy, cx = (cell // w), (cell % w)  # (B, k) cell row and column
    detections = []
    for b in range(batch):
        off = outputs["offset"][b, :, cy[b], cx[b]]  # (2, k)
        wh = torch.exp(outputs["size"][b, :, cy[b], cx[b]].clamp(max=10.0)) * stride  # (2, k) pixels
        centre_x = (cx[b] + off[0]) * stride
        centre_y = (cy[b] + off[1]) * stride
        boxes = torch.stack([centre_x - wh[0] / 2, centre_y - wh[1] / 2,
                             centre_x + wh[0] / 2, centre_y + wh[1] / 2], dim=1)  # (k, 4) xyxy
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, image_size[1])
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, image_size[0])
        keep = top_scores[b] >= score_threshold
        result = {"boxes": boxes[keep], "scores": top_scores[b][keep], "labels": labels[b][keep]}
        if nms_threshold is not None and len(result["boxes"]):
            kept = batched_nms(result["boxes"], result["scores"], result["labels"], nms_threshold)
            result = {key: value[kept] for key, value in result.items()}
        detections.append(result)
    return detections
