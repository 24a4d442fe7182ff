"""U-Net (Ronneberger, Fischer and Brox 2015, "U-Net: Convolutional Networks for Biomedical
Image Segmentation") for semantic segmentation: ``(B, C, H, W)`` images -> ``(B, K, H, W)`` logits.

The network has an encoder (contracting path) and a decoder (expansive path) joined by skip
connections at **every** scale. With ``e_l`` the encoder features at level ``l`` (resolution
``H / 2**l``) and ``d_l`` the decoder features::

    e_0 = Enc_0(x)                          DoubleConv                  (B, c,        H,      W)
    e_l = Enc_l(MaxPool(e_{l-1}))           l = 1 .. depth              (B, c * 2**l, H/2**l, W/2**l)
    d_depth = e_depth                       the bottleneck, (B, c * 2**depth, H/2**depth, W/2**depth)
    d_l = Dec_l([Up(d_{l+1}); e_l])         l = depth-1 .. 0, [a; b] = concatenation on channels
    y   = Conv1x1(d_0)                      (B, num_classes, H, W) logits

``DoubleConv`` (and every ``Enc_l``/``Dec_l``) is ``(3x3 conv -> BatchNorm -> ReLU) x 2`` with
padding 1, so convolutions keep the size (the 2015 paper used unpadded convolutions and
cropped the skips instead; BatchNorm came later). ``Up`` doubles the resolution and halves the
channels, by a 2x2 stride-2 transposed convolution (``upsampling="transpose"``, the paper's
"up-convolution") or by bilinear interpolation followed by a 1x1 convolution
(``upsampling="bilinear"``, which cannot produce checkerboard artefacts).

The skips are **concatenated**, not added: the decoder sees the coarse "what" from below and
the sharp "where" of the encoder side by side and learns how to combine them. This is not
``y = D(E(x)) + S(x)`` (one additive shortcut around the whole network): zeroing the
bottleneck of a U-Net still leaves an output that depends on the input through the skips
(``tests/test_unet.py`` checks this, and that a network built with ``skips=False`` loses it).

Any input size works: the input is padded (reflection, or zeros for tiny inputs) to a multiple
of ``2**depth`` so that every pooling halves exactly, and the logits are cropped back to
``(H, W)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DoubleConv", "Down", "Up", "UNet"]


class DoubleConv(nn.Sequential):
    """``(3x3 conv -> BatchNorm -> ReLU) x 2``: ``(B, in_channels, H, W) -> (B, out_channels, H, W)``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),  # BN has the bias
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class Down(nn.Sequential):
    """One encoder step: 2x2 max pooling then :class:`DoubleConv`: ``(B, C_in, H, W) -> (B, C_out, H/2, W/2)``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(nn.MaxPool2d(kernel_size=2, stride=2), DoubleConv(in_channels, out_channels))


class Up(nn.Module):
    """One decoder step ``d_l = Dec_l([Up(d_{l+1}); e_l])``.

    ``Up`` maps ``(B, in_channels, h, w)`` to ``(B, in_channels // 2, 2h, 2w)``; the result is
    concatenated with the skip ``e_l`` ``(B, skip_channels, 2h, 2w)`` and passed through a
    :class:`DoubleConv` to ``(B, out_channels, 2h, 2w)``. With ``skip=False`` there is no
    concatenation (a plain decoder, for comparison).

    Args:
        upsampling: ``"transpose"`` (2x2 stride-2 ``ConvTranspose2d``) or ``"bilinear"``
            (``F.interpolate`` then a 1x1 convolution).
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int,
                 upsampling: str = "transpose", skip: bool = True) -> None:
        super().__init__()
        up_channels = in_channels // 2
        if upsampling == "transpose":
            # H_out = (H_in - 1) * 2 + 2 = 2 H_in: each input pixel paints its own 2x2 block
            self.up = nn.ConvTranspose2d(in_channels, up_channels, kernel_size=2, stride=2)
        elif upsampling == "bilinear":
            self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                                    nn.Conv2d(in_channels, up_channels, kernel_size=1))
        else:
            raise ValueError(f"upsampling must be 'transpose' or 'bilinear', got {upsampling!r}")
        self.skip = skip
        self.conv = DoubleConv(up_channels + (skip_channels if skip else 0), out_channels)

    def forward(self, below: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        x = self.up(below)  # (B, in/2, 2h, 2w)
        if self.skip:
            if skip is None or skip.shape[-2:] != x.shape[-2:]:
                raise ValueError(f"skip: expected spatial size {tuple(x.shape[-2:])}, "
                                 f"got {None if skip is None else tuple(skip.shape[-2:])}")
            x = torch.cat([x, skip], dim=1)  # (B, in/2 + skip_channels, 2h, 2w): concatenate, not add
        return self.conv(x)


class UNet(nn.Module):
    """U-Net: ``(B, in_channels, H, W)`` images -> ``(B, num_classes, H, W)`` logits, any ``H, W``.

    Args:
        in_channels: channels of the input (3 for RGB, 1 for grey).
        num_classes: number of classes, background included (output channels: logits, not
            probabilities; apply ``softmax(dim=1)`` or ``argmax(dim=1)`` yourself).
        base_channels: channels ``c`` of the first level; level ``l`` has ``c * 2**l``
            (the paper: 64, i.e. 64 -> 128 -> 256 -> 512 -> 1024, about 31 M parameters).
        depth: number of poolings; the bottleneck works at ``H / 2**depth``.
        upsampling: ``"transpose"`` or ``"bilinear"`` (see :class:`Up`).
        skips: ``False`` removes every skip connection, leaving a plain encoder-decoder
            (for the ablation in notebook 06; a U-Net has ``skips=True``).

    Attributes:
        inc, downs: the encoder, ``inc`` gives ``e_0``, ``downs[l-1]`` gives ``e_l``;
            ``downs[-1]`` gives the bottleneck ``e_depth``.
        ups: the decoder, ``ups[i]`` gives ``d_{depth-1-i}``.
        head: the final 1x1 convolution to ``num_classes`` logits.

    Raises:
        ValueError: in ``forward`` for an input that is not ``(B, in_channels, H, W)``.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 2, base_channels: int = 64,
                 depth: int = 4, upsampling: str = "transpose", skips: bool = True) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes),
                            ("base_channels", base_channels), ("depth", depth)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.in_channels, self.num_classes, self.depth = in_channels, num_classes, depth
        widths = [base_channels * 2**level for level in range(depth + 1)]  # channels of e_0 .. e_depth
        self.inc = DoubleConv(in_channels, widths[0])
        self.downs = nn.ModuleList(Down(widths[l - 1], widths[l]) for l in range(1, depth + 1))
        self.ups = nn.ModuleList(Up(widths[l + 1], widths[l], widths[l], upsampling, skips)
                                 for l in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], num_classes, kernel_size=1)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @property
    def bottleneck(self) -> nn.Module:
        """The deepest encoder block; its output ``e_depth`` has the lowest resolution."""
        return self.downs[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"UNet expected input (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        weight_dtype = next(self.parameters()).dtype
        if x.dtype != weight_dtype:
            hint = " (convert uint8 images with x.float() / 255)" if not x.is_floating_point() else \
                f" (use x.to({weight_dtype}) or model.to({x.dtype}))"
            raise TypeError(f"UNet expected a {weight_dtype} input like its weights, got {x.dtype}{hint}")
        h, w = x.shape[-2:]
        multiple = 2**self.depth
        pad_h, pad_w = -h % multiple, -w % multiple  # round H and W up to a multiple of 2**depth
        top, left = pad_h // 2, pad_w // 2
        if pad_h or pad_w:
            mode = "reflect" if pad_h < h and pad_w < w else "constant"  # reflection needs pad < size
            x = F.pad(x, (left, pad_w - left, top, pad_h - top), mode=mode)  # (B, C, H', W')
        skips = [self.inc(x)]  # e_0: (B, c, H', W')
        for down in self.downs:
            skips.append(down(skips[-1]))  # e_l: (B, c * 2**l, H' / 2**l, W' / 2**l)
        d = skips.pop()  # bottleneck e_depth
        for up in self.ups:
            d = up(d, skips.pop())  # d_l = Dec_l([Up(d_{l+1}); e_l])
        logits = self.head(d)  # (B, num_classes, H', W')
        return logits[..., top:top + h, left:left + w]  # crop back to (B, num_classes, H, W)
