"""Checks for the exercises: they say what is wrong, not just ``False``.

Each check prints one line starting with a tick when the answer is right, and raises
:class:`CheckError` (an ``AssertionError``) with what was expected, what came, and a hint
when it is not.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class CheckError(AssertionError):
    """An exercise answer is not right yet; the message explains why."""


def _fail(name: str, problem: str, hint: str | None) -> None:
    message = f"{name}: {problem}"
    if hint:
        message += f"\n  hint: {hint}"
    raise CheckError(message)


def _ok(name: str, detail: str = "") -> None:
    print(f"\u2714 {name} is correct" + (f" ({detail})" if detail else ""))


def _as_tensor(value: Any, name: str, hint: str | None) -> torch.Tensor:
    if value is None or value is NotImplemented or value is Ellipsis:
        _fail(name, "no answer yet (got None/...)", hint)
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    try:
        return torch.as_tensor(np.asarray(value))
    except Exception:
        _fail(name, f"expected a tensor or array-like, got {type(value).__name__}", hint)
    raise AssertionError("unreachable")


def check_shape(value: Any, expected_shape: Sequence[int], name: str = "answer", hint: str | None = None) -> None:
    """Check ``value.shape == expected_shape`` (``-1`` in ``expected_shape`` matches any size)."""
    tensor = _as_tensor(value, name, hint)
    got, want = tuple(tensor.shape), tuple(expected_shape)
    if len(got) != len(want) or any(w != -1 and g != w for g, w in zip(got, want)):
        _fail(name, f"expected shape {want}, got {got}", hint)
    _ok(name, f"shape {got}")


def check_close(value: Any, expected: Any, atol: float = 1e-6, rtol: float = 1e-5,
                name: str = "answer", hint: str | None = None) -> None:
    """Check that ``value`` equals ``expected`` within ``atol + rtol * |expected|`` element-wise.

    Shapes must match exactly; the message reports the largest deviation and where it is. When
    ``expected`` is a single number it is the answer, so the message says only whether the value
    is too large or too small.
    """
    got = _as_tensor(value, name, hint).double()
    want = _as_tensor(expected, f"{name} (reference)", None).double()
    if got.shape != want.shape:
        _fail(name, f"expected shape {tuple(want.shape)}, got {tuple(got.shape)}", hint)
    if not torch.isfinite(got).all() and torch.isfinite(want).all():
        _fail(name, f"contains {int((~torch.isfinite(got)).sum())} NaN/inf values", hint)
    both_inf = torch.isinf(got) & torch.isinf(want) & (torch.sign(got) == torch.sign(want))
    err = torch.where(both_inf, torch.zeros_like(got), (got - want).abs())
    tol = atol + rtol * want.abs().nan_to_num(posinf=0.0, neginf=0.0)
    bad = err > tol
    if bad.any():
        flat = int(torch.argmax(torch.where(bad, err, torch.zeros_like(err))))
        index = tuple(int(i) for i in np.unravel_index(flat, tuple(got.shape))) if got.ndim else ()
        if want.numel() == 1:  # a single number is the answer itself: say which way it is off, not its value
            direction = "too large" if float(got.flatten()[0]) > float(want.flatten()[0]) else "too small"
            _fail(name, (f"got {float(got.flatten()[0]):.6g}, which is {direction} (off by "
                         f"{float(err.flatten()[0]):.3g}, tolerance {float(tol.flatten()[0]):.3g})"), hint)
        _fail(name, (f"{int(bad.sum())} of {got.numel()} values are off; the largest error is "
                     f"{float(err.flatten()[flat]):.3g} at index {index} (got "
                     f"{float(got.flatten()[flat]):.6g}, expected {float(want.flatten()[flat]):.6g}, "
                     f"tolerance {float(tol.flatten()[flat]):.3g})"), hint)
    _ok(name, f"max abs error {float(err.max()) if err.numel() else 0.0:.2g}")


def check_equal(value: Any, expected: Any, name: str = "answer", hint: str | None = None,
                show_expected: bool = False) -> None:
    """Check a plain value (int, str, tuple, ...) for equality.

    The expected value is usually the answer, so a failure does not print it: it says what came
    and, for numbers, whether it is too large or too small, for tuples which positions differ.
    Pass ``show_expected=True`` where the expected value gives nothing away.
    """
    if value is None or value is Ellipsis:
        _fail(name, "no answer yet (got None/...)", hint)
    if value != expected:
        if show_expected:
            _fail(name, f"expected {expected!r}, got {value!r}", hint)
        if isinstance(value, numbers.Real) and isinstance(expected, numbers.Real) and not isinstance(value, bool):
            _fail(name, f"got {value!r}, which is {'too large' if value > expected else 'too small'}", hint)
        if isinstance(value, tuple) and isinstance(expected, tuple):
            if len(value) != len(expected):
                _fail(name, f"got {value!r}, which has {len(value)} entries, not {len(expected)}", hint)
            wrong = [i for i, (v, e) in enumerate(zip(value, expected)) if v != e]
            _fail(name, f"got {value!r}; entries at positions {wrong} are wrong", hint)
        _fail(name, f"got {value!r}, which is not the expected value", hint)
    _ok(name, f"{value!r}")


def check_dtype(value: Any, dtype: torch.dtype, name: str = "answer", hint: str | None = None) -> None:
    """Check that ``value`` is a tensor of ``dtype`` (``float64`` where ``float32`` is wanted is an error)."""
    if value is None or value is Ellipsis:
        _fail(name, "no answer yet (got None/...)", hint)
    if not isinstance(value, torch.Tensor):
        _fail(name, f"expected a torch.Tensor, got {type(value).__name__}", hint)
    if value.dtype != dtype:
        _fail(name, f"expected dtype {dtype}, got {value.dtype}", hint)
    _ok(name, f"dtype {value.dtype}")


def check_in_range(value: float, low: float, high: float, name: str = "answer", hint: str | None = None) -> None:
    """Check ``low <= value <= high`` for a scalar (for example an accuracy or a PSNR)."""
    if value is None or value is Ellipsis:
        _fail(name, "no answer yet (got None/...)", hint)
    value = float(value)
    if not low <= value <= high:
        _fail(name, f"expected a value in [{low:g}, {high:g}], got {value:.6g}", hint)
    _ok(name, f"{value:.4g}")


# ---------------------------------------------------------------------------------------
# The alternating GAN loop (notebook 09): checked through the gradients each step applies
# ---------------------------------------------------------------------------------------

_GAN_BATCH, _GAN_LATENT = 6, 3


def _tiny_gan() -> tuple[nn.Module, nn.Module]:
    """Fixed ``D``: images ``(B, 1, 2, 2)`` -> logits ``(B,)``, and ``G``: noise ``(B, 3)`` -> images in [-1, 1].

    D's last bias is -2, so D rejects most images (D well below 1/2): the regime where the
    saturating and the non-saturating generator losses differ most.
    """
    D = nn.Sequential(nn.Flatten(), nn.Linear(4, 5), nn.LeakyReLU(0.2), nn.Linear(5, 1), nn.Flatten(0))  # (B,)
    G = nn.Sequential(nn.Linear(_GAN_LATENT, 4), nn.Tanh(), nn.Unflatten(1, (1, 2, 2)))  # (B, 1, 2, 2)
    rng = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in [*D.parameters(), *G.parameters()]:
            p.copy_(torch.randn(p.shape, generator=rng))
        D[3].bias.fill_(-2.0)
    return D, G


def _flat(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.detach().flatten() for t in tensors])


def _grad_of(loss: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """d loss / d parameters of ``model``, flattened; leaves ``.grad`` alone."""
    return _flat(torch.autograd.grad(loss, list(model.parameters()), retain_graph=True))


def _same(update: torch.Tensor, expected: torch.Tensor) -> bool:
    """Equal up to float32 rounding (the updates are SGD steps with learning rate 1)."""
    return float((update - expected).norm()) <= 1e-4 * float(expected.norm()) + 1e-6


def _call_step(step: Callable, name: str, *args: Any) -> Any:
    try:
        return step(*args)
    except (NotImplementedError, CheckError):
        raise
    except Exception as err:  # the learner's code crashed: say where, keep the traceback chained
        text = str(err)
        if "size" in text or "shape" in text:
            hint = "labels must have the shape of D's logits, (B,): torch.ones_like(logits), torch.zeros_like(logits)"
        elif "second time" in text or "does not require grad" in text:
            hint = "one forward, one loss.backward() and one optimizer step per step; G's step needs G(z) undetached"
        else:
            hint = "run your function on its own to see where it fails"
        _fail(name, f"raised {type(err).__name__}: {text}", hint)


def _check_returned_loss(value: Any, name: str) -> None:
    hint = "return loss.item(): a Python float, for the loss curves"
    if isinstance(value, torch.Tensor):
        _fail(name, "returned a tensor, not a float (a loss tensor keeps its whole graph alive)", hint)
    if not isinstance(value, numbers.Real) or not math.isfinite(value):
        _fail(name, f"should return the loss as a finite float, got {value!r}", hint)


def _direction_problem(update: torch.Tensor, expected: torch.Tensor, loss: str) -> str:
    cosine = float(F.cosine_similarity(update, expected, dim=0))
    if cosine > 0.999:
        return (f"the update points the right way but is {float(update.norm() / expected.norm()):.2f} times "
                f"as long as a step on {loss}")
    return f"the update does not follow {loss} (cosine with the correct update {cosine:+.2f})"


def check_gan_steps(d_step: Callable, g_step: Callable, name: str = "alternating GAN loop") -> None:
    """Check ``d_step(D, G, real, z, opt_D)`` and ``g_step(D, G, z, opt_G)`` by the gradients they apply.

    Each step runs once on a tiny fixed GAN (CPU, a few milliseconds) with plain SGD at learning
    rate 1, so a network's parameter change *is* the gradient its step used. Checked in order:

    1. D's step leaves G alone: G's ``.grad`` is None or zero and its weights do not change
       (the fakes are detached or made under ``no_grad``);
    2. D's update is the gradient of ``L_D = BCE(D(real), 1) + BCE(D(G(z)), 0)``, and nothing
       else: gradients already in ``.grad`` are cleared, labels are not swapped and have the
       shape of the logits (no broadcasting);
    3. G's step leaves D's weights unchanged and its ``requires_grad`` flags as they were;
    4. G receives the gradient of its loss (the fakes are *not* detached) and is updated;
    5. G's update is the gradient of the non-saturating ``L_G = BCE(D(G(z)), 1)``, not of the
       saturating ``log(1 - D(G(z)))`` and not of ``BCE(D(G(z)), 0)``;
    6. both return their loss as a finite Python float.

    Raises :class:`CheckError` naming the first broken property; ``NotImplementedError`` from an
    unsolved exercise passes through.
    """
    rng = torch.Generator().manual_seed(1)
    real = torch.rand(_GAN_BATCH, 1, 2, 2, generator=rng) * 2 - 1  # (B, 1, 2, 2) in [-1, 1]
    z = torch.randn(_GAN_BATCH, _GAN_LATENT, generator=rng)  # (B, latent)

    # --- the discriminator's step -------------------------------------------------------
    D, G = _tiny_gan()
    with torch.no_grad():
        fake = G(z)
    real_logits, fake_logits = D(real), D(fake)  # (B,) each
    both = torch.cat([real_logits, fake_logits])  # (2B,)
    # BCE on logits: BCE(l, 1) = softplus(-l), BCE(l, 0) = softplus(l)
    want = _grad_of(F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean(), D)
    swapped = _grad_of(F.softplus(real_logits).mean() + F.softplus(-fake_logits).mean(), D)
    # labels (2B, 1) against logits (2B,) broadcast to (2B, 2B): every logit meets every label
    broadcast = _grad_of(0.5 * (F.softplus(-both) + F.softplus(both)).mean(), D)
    stale = [torch.randn(p.shape, generator=rng) for p in D.parameters()]  # as a previous G step leaves them
    for p, s in zip(D.parameters(), stale):
        p.grad = s.clone()
    D_before, G_before = _flat(D.parameters()), _flat(G.parameters())

    d_loss = _call_step(d_step, "d_step", D, G, real, z, torch.optim.SGD(D.parameters(), lr=1.0))
    if any(p.grad is not None and bool(p.grad.any()) for p in G.parameters()):
        _fail("d_step", "G's parameters received a gradient from D's loss",
              "make the fakes under torch.no_grad() or give D fake.detach(): D's step must not reach G")
    if not torch.equal(_flat(G.parameters()), G_before):
        _fail("d_step", "changed G's parameters", "D's step steps opt_D only")
    update = D_before - _flat(D.parameters())
    if not update.any():
        _fail("d_step", "did not change D's parameters", "opt_D.zero_grad(), then loss.backward(), then opt_D.step()")
    if _same(update, want + _flat(stale)):
        _fail("d_step", "D's update also contains the gradients that were already in D's .grad",
              "call opt_D.zero_grad() before loss.backward(): the generator's step leaves gradients in D")
    if _same(update, swapped):
        _fail("d_step", "real images are labelled 0 and fakes 1", "D labels real images 1 and fakes 0")
    if _same(update, broadcast):
        _fail("d_step", "the loss pairs every logit with every label: labels of shape (2B, 1) against "
              "logits of shape (2B,) broadcast to a (2B, 2B) matrix",
              "make each label tensor the shape of its logits: torch.ones_like(logits), torch.zeros_like(logits)")
    if not _same(update, want):
        _fail("d_step", _direction_problem(update, want, "L_D = BCE(D(real), 1) + BCE(D(G(z)), 0)"),
              "the sum of two batch means on logits (binary_cross_entropy_with_logits), real labelled 1, "
              "fake labelled 0, labels shaped like the logits")
    _check_returned_loss(d_loss, "d_step")

    # --- the generator's step -----------------------------------------------------------
    D, G = _tiny_gan()
    fake_logits = D(G(z))  # (B,)
    want = _grad_of(F.softplus(-fake_logits).mean(), G)  # BCE(D(G(z)), 1)
    saturating = _grad_of(-F.softplus(fake_logits).mean(), G)  # log(1 - D(G(z)))
    labelled_fake = _grad_of(F.softplus(fake_logits).mean(), G)  # BCE(D(G(z)), 0)
    for p in D.parameters():
        p.grad = None
    stale = [torch.randn(p.shape, generator=rng) for p in G.parameters()]
    for p, s in zip(G.parameters(), stale):
        p.grad = s.clone()
    D_before, G_before = _flat(D.parameters()), _flat(G.parameters())

    g_loss = _call_step(g_step, "g_step", D, G, z, torch.optim.SGD(G.parameters(), lr=1.0))
    if not torch.equal(_flat(D.parameters()), D_before):
        _fail("g_step", "changed D's parameters", "G's step steps opt_G only; D learns in its own step")
    if not all(p.requires_grad for p in D.parameters()):
        _fail("g_step", "left D's parameters with requires_grad=False",
              "if you freeze D for G's step, restore it afterwards with D.requires_grad_(True)")
    update = G_before - _flat(G.parameters())
    if _same(update, want + _flat(stale)):
        _fail("g_step", "G's update also contains the gradients that were already in G's .grad",
              "call opt_G.zero_grad() before loss.backward()")
    if not update.any() or _same(update, _flat(stale)):
        _fail("g_step", "no gradient of L_G reached G's parameters",
              "in G's step D must judge G(z) itself, not fake.detach() and not fakes made under no_grad")
    if _same(update, saturating):
        _fail("g_step", "G follows the saturating loss log(1 - D(G(z))), which stops learning while D rejects "
              "the fakes", "use the non-saturating loss: BCE(D(G(z)), 1)")
    if _same(update, labelled_fake):
        _fail("g_step", "G labels its fakes 0, so it learns to look fake",
              "G wants D to call its fakes real: BCE(D(G(z)), 1)")
    if not _same(update, want):
        _fail("g_step", _direction_problem(update, want, "the non-saturating L_G = BCE(D(G(z)), 1)"),
              "one mean BCE on logits of D(G(z)) with labels 1 shaped like the logits")
    _check_returned_loss(g_loss, "g_step")
    _ok(name, "D's step leaves G alone and follows L_D; G's step leaves D alone and follows the non-saturating L_G")


# ---------------------------------------------------------------------------------------
# A residual block (notebook 03): checked through what it computes, not through its shape
# ---------------------------------------------------------------------------------------

def _last_batchnorm(module: nn.Module) -> nn.BatchNorm2d | None:
    norms = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    return norms[-1] if norms else None


def check_residual_block(block_class: Callable, name: str = "ResidualBlock") -> None:
    """Check ``block_class(in_channels, out_channels, stride)`` computes ``ReLU(F(x) + shortcut(x))``.

    The block must keep its two paths as ``self.residual`` (F, ending in a BatchNorm) and
    ``self.shortcut``. Tested in eval mode on tiny inputs ``(2, C, 6, 6)``, for an identity
    shortcut (4 -> 4 channels, stride 1) and a projection (4 -> 8 channels, stride 2):

    1. the output has shape ``(B, out_channels, H / stride, W / stride)``;
    2. with F's last BatchNorm scaled to zero (F(x) = 0) the block returns ``ReLU(shortcut(x))``,
       and for the identity case ``ReLU(x)``: the shortcut is really added;
    3. with a nonzero F it returns ``ReLU(residual(x) + shortcut(x))`` computed from its own
       submodules: one ReLU, after the sum.

    Raises :class:`CheckError` naming the first broken property; ``NotImplementedError`` from an
    unsolved exercise passes through.
    """
    rng = torch.Generator().manual_seed(0)
    for c_in, c_out, stride in [(4, 4, 1), (4, 8, 2)]:
        case = f"{name}({c_in}, {c_out}, stride={stride})"
        try:
            block = block_class(c_in, c_out, stride)
        except NotImplementedError:
            raise
        except Exception as err:
            _fail(case, f"could not be built: {type(err).__name__}: {err}", "the signature is (in_channels, out_channels, stride)")
        if not isinstance(getattr(block, "residual", None), nn.Module) or not isinstance(getattr(block, "shortcut", None), nn.Module):
            _fail(case, "has no submodules self.residual and self.shortcut",
                  "keep F in self.residual (an nn.Sequential) and W_s in self.shortcut (nn.Identity() when shapes agree)")
        norm = _last_batchnorm(block.residual)
        if norm is None:
            _fail(case, "self.residual has no BatchNorm2d", "F is conv3x3 - BN - ReLU - conv3x3 - BN")
        with torch.no_grad():  # non-trivial BatchNorm statistics, so eval mode does not hide anything
            for m in block.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.copy_(torch.randn(m.num_features, generator=rng) * 0.1)
                    m.running_var.copy_(torch.rand(m.num_features, generator=rng) + 0.5)
                    m.weight.copy_(torch.rand(m.num_features, generator=rng) + 0.5)
                    m.bias.copy_(torch.randn(m.num_features, generator=rng) * 0.1)
        block.eval()
        x = torch.randn(2, c_in, 6, 6, generator=rng)  # (B, C, H, W)
        with torch.no_grad():
            try:
                y = block(x)
            except NotImplementedError:
                raise
            except Exception as err:
                _fail(case, f"forward raised {type(err).__name__}: {err}",
                      "F(x) and the shortcut must have the same shape: give the shortcut the stride and the channels")
            want_shape = (2, c_out, 6 // stride, 6 // stride)
            if tuple(y.shape) != want_shape:
                _fail(case, f"expected output shape {want_shape}, got {tuple(y.shape)}",
                      "the first convolution of F carries the stride; the 1x1 projection the same stride")
            shortcut = block.shortcut(x)
            if stride == 1 and c_in == c_out and not torch.equal(shortcut, x):
                _fail(case, "the shortcut changes x although the shapes agree", "use nn.Identity() when the shapes agree")
            weight, bias = norm.weight.clone(), norm.bias.clone()
            norm.weight.zero_()
            norm.bias.zero_()  # F(x) = 0 from here
            y0 = block(x)
            norm.weight.copy_(weight)
            norm.bias.copy_(bias)
            if (y0 < 0).any():
                _fail(case, "the output has negative values", "apply the ReLU last, to F(x) + shortcut(x)")
            if not torch.allclose(y0, F.relu(shortcut), atol=1e-5):
                _fail(case, "with F(x) = 0 (its last BatchNorm zeroed) the block does not return ReLU(shortcut(x)): "
                      "the shortcut is not added", "return F.relu(self.residual(x) + self.shortcut(x))")
            want = F.relu(block.residual(x) + shortcut)
            if not torch.allclose(block(x), want, atol=1e-5):
                _fail(case, "the output is not ReLU(residual(x) + shortcut(x)) of the block's own submodules",
                      "one ReLU, after the sum: not ReLU(F(x)) + shortcut(x)")
    _ok(name, "adds its shortcut, one ReLU after the sum, for an identity and a projection shortcut")


def check_crop_for_scale(crop: Callable, name: str = "crop_for_scale") -> None:
    """Check ``crop(img, s)``: the bottom and right of a ``(C, H, W)`` image cut to multiples of ``s``.

    Compared pixel for pixel (not only the shape) on images whose sides are, and are not,
    multiples of ``s``: a crop of the right size taken at another corner or in the centre
    fails, and so does ``img[..., :-(h % s), ...]``, which empties a side that is already a
    multiple of ``s``.
    """
    rng = torch.Generator().manual_seed(0)
    for shape, s in [((3, 301, 451), 4), ((3, 300, 451), 4), ((1, 9, 12), 3)]:
        img = torch.rand(shape, generator=rng)  # (C, H, W)
        h, w = shape[1] - shape[1] % s, shape[2] - shape[2] % s
        case = f"{name}({'x'.join(map(str, shape))} image, {s})"
        out = crop(img.clone(), s)
        if not isinstance(out, torch.Tensor):
            _fail(case, f"expected a tensor, got {type(out).__name__}", "return a slice of img")
        if tuple(out.shape) != (shape[0], h, w):
            _fail(case, f"expected shape {(shape[0], h, w)}, got {tuple(out.shape)}",
                  "h - h % s is the largest multiple of s that is <= h (and img[..., :-0] is empty)")
        if not torch.equal(out, img[:, :h, :w]):
            _fail(case, "has the right size but not the right pixels: the crop must keep the top-left "
                  "corner and cut the bottom rows and right columns", "img[..., :h - h % s, :w - w % s]")
    _ok(name, "keeps the top-left pixels, cuts the bottom and right to multiples of s")


# ---------------------------------------------------------------------------------------
# One training step of a classifier (notebook 02): checked through the update it applies
# ---------------------------------------------------------------------------------------

def check_train_step(step: Callable, name: str = "train_step") -> None:
    """Check ``step(model, images, labels, optimizer) -> float`` by the parameter update it makes.

    The step runs once on a tiny fixed classifier (images ``(5, 1, 2, 2)``, 3 classes) with plain
    SGD at learning rate 1, so the parameter change *is* the gradient the step used, and
    ``.grad`` holds leftovers from an earlier step. Checked in order: the parameters change;
    the old gradients were cleared (``zero_grad`` before ``backward``); the step comes after
    ``backward``; the loss is cross-entropy on the logits (no softmax first); it is the batch
    mean; and the step returns that loss, before the update, as a Python float.
    """
    rng = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))  # (B, 1, 2, 2) -> logits (B, 3)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=rng))
    images = torch.randn(5, 1, 2, 2, generator=rng)  # (B, 1, 2, 2)
    labels = torch.tensor([0, 2, 1, 2, 0])  # (B,) class indices
    logits = model(images)  # (B, 3)
    loss = F.cross_entropy(logits, labels)
    want = _grad_of(loss, model)
    softmax_first = _grad_of(F.cross_entropy(logits.softmax(dim=1), labels), model)
    stale = [torch.randn(p.shape, generator=rng) for p in model.parameters()]  # left by the previous step
    for p, s in zip(model.parameters(), stale):
        p.grad = s.clone()
    before = _flat(model.parameters())
    try:
        returned = step(model, images.clone(), labels.clone(), torch.optim.SGD(model.parameters(), lr=1.0))
    except (NotImplementedError, CheckError):
        raise
    except Exception as err:
        _fail(name, f"raised {type(err).__name__}: {err}", "run your function on its own to see where it fails")
    update = before - _flat(model.parameters())
    if not update.any():
        _fail(name, "did not change the parameters", "optimizer.zero_grad(), forward, loss.backward(), optimizer.step()")
    if _same(update, _flat(stale)):
        _fail(name, "the update is the gradient left by the previous step: optimizer.step() ran before loss.backward()",
              "optimizer.zero_grad(), forward, loss.backward(), then optimizer.step()")
    if _same(update, want + _flat(stale)):
        _fail(name, "the update also contains the gradients that were already in .grad",
              "call optimizer.zero_grad() before loss.backward(): gradients add up otherwise")
    if _same(update, softmax_first):
        _fail(name, "the loss takes probabilities: softmax before cross-entropy applies softmax twice",
              "F.cross_entropy (nn.CrossEntropyLoss) wants the raw logits")
    if not _same(update, want):
        _fail(name, _direction_problem(update, want, "the mean cross-entropy of the batch"),
              "F.cross_entropy(model(images), labels), the default reduction='mean'")
    if isinstance(returned, torch.Tensor):
        _fail(name, "returned a tensor, not a float (a loss tensor keeps its whole graph alive)", "return loss.item()")
    if not isinstance(returned, numbers.Real) or not math.isclose(float(returned), float(loss.detach()), rel_tol=1e-5):
        _fail(name, f"should return the loss of this batch before the update as a float, got {returned!r}",
              "return loss.item()")
    _ok(name, "clears old gradients, follows the mean cross-entropy on logits, returns the loss")


# ---------------------------------------------------------------------------------------
# The reparameterised sampler of a VAE (notebook 08)
# ---------------------------------------------------------------------------------------

def check_reparameterize(sample: Callable, name: str = "reparameterize") -> None:
    """Check ``sample(mu, logvar) -> z``, a draw from ``N(mu, diag(exp(logvar)))`` that gradients pass.

    Run once (under a fixed seed, the caller's random state restored) on 40,000 identical rows
    ``mu = (-2, 0, 3)``, ``sigma = (0.5, 1, 2)``. Checked in order: the shape of ``z`` is that of
    ``mu``; gradients reach ``mu`` (each ``dz/dmu = 1``) and ``logvar``; the batch mean of each
    column is ``mu`` and its standard deviation is ``sigma = exp(logvar / 2)`` (not
    ``exp(logvar)``, the variance); the noise is drawn per element (columns uncorrelated).
    """
    n = 40_000
    sigma = torch.tensor([0.5, 1.0, 2.0])
    mu = torch.tensor([-2.0, 0.0, 3.0]).expand(n, 3).clone().requires_grad_(True)  # (N, d)
    logvar = (2 * sigma.log()).expand(n, 3).clone().requires_grad_(True)  # (N, d)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        try:
            z = sample(mu, logvar)
        except (NotImplementedError, CheckError):
            raise
        except Exception as err:
            _fail(name, f"raised {type(err).__name__}: {err}", "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)")
    if not isinstance(z, torch.Tensor):
        _fail(name, f"expected a tensor, got {type(z).__name__}", None)
    if tuple(z.shape) != (n, 3):
        _fail(name, f"expected z of the shape of mu, {(n, 3)}, got {tuple(z.shape)}", "one noise value per element of mu")
    if not z.requires_grad:
        _fail(name, "z carries no gradient back to mu and logvar",
              "torch.normal and sampling under no_grad cut the graph: write z = mu + sigma * eps with eps drawn apart")
    grad_mu, grad_logvar = torch.autograd.grad(z.sum(), [mu, logvar], allow_unused=True)
    if grad_mu is None or not torch.allclose(grad_mu, torch.ones_like(grad_mu)):
        _fail(name, "no gradient reaches mu: dz/dmu is not 1 for every element",
              "torch.normal gives mu and logvar a zero gradient; write z = mu + sigma * eps, mu added once")
    if grad_logvar is None or not grad_logvar.abs().sum() > 0:
        _fail(name, "no gradient reaches logvar: z has no sigma * eps term built from it",
              "z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)")
    z = z.detach()
    mean, std = z.mean(dim=0), z.std(dim=0)  # (d,) each
    if (std < 1e-3).all():
        _fail(name, "z does not vary over the batch: there is no noise", "add sigma * torch.randn_like(mu)")
    if torch.allclose(std, sigma ** 2, rtol=0.05):
        _fail(name, "the spread of z is exp(logvar), the variance, not the standard deviation",
              "sigma = exp(logvar / 2) = torch.exp(0.5 * logvar)")
    if not torch.allclose(std, sigma, rtol=0.05):
        _fail(name, "the standard deviation of z over the batch is not exp(logvar / 2)",
              "z = mu + torch.exp(0.5 * logvar) * eps with eps ~ N(0, 1)")
    if not torch.allclose(mean, mu[0].detach(), atol=0.05):
        _fail(name, "the mean of z over the batch is not mu", "the noise must have mean 0: torch.randn_like, not torch.rand_like")
    eps = (z - mu[0].detach()) / sigma  # (N, d) standardised noise
    corr = torch.corrcoef(eps.T)  # (d, d)
    if (corr - torch.eye(3)).abs().max() > 0.05:
        _fail(name, "the noise is shared between the dimensions of z", "draw one noise value per element: torch.randn_like(mu)")
    _ok(name, "z has mean mu and standard deviation exp(logvar / 2), with gradients to both")



# ---------------------------------------------------------------------------------------
# A median filter (notebook 01): checked by what it does to images
# ---------------------------------------------------------------------------------------

def check_median_filter(median: Callable, name: str = "median_filter") -> None:
    """Check ``median(image, k)`` for a ``(C, H, W)`` image and an odd window side ``k``.

    Checked in order, for ``k = 3`` and ``k = 5`` on small images: the output has the input's
    shape; away from the border (where the padding does not matter) every pixel is the median
    of its ``k x k`` window in its own channel; on a flat grey image with a few isolated
    impulses, the impulses are gone (a mean filter only spreads them); a vertical step edge
    stays sharp. Borders may be padded in any way.
    """
    rng = torch.Generator().manual_seed(0)
    for k in (3, 5):
        r = k // 2
        img = torch.rand(2, 11, 13, generator=rng)  # (C, H, W)
        case = f"{name}(2x11x13 image, {k})"
        try:
            out = median(img.clone(), k)
        except (NotImplementedError, CheckError):
            raise
        except Exception as err:
            _fail(case, f"raised {type(err).__name__}: {err}", "F.unfold wants a batch: image[None] is (1, C, H, W)")
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(img.shape):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            _fail(case, f"expected the input's shape {tuple(img.shape)}, got {got}",
                  f"pad by k // 2 = {r} on every side first (F.pad with mode='reflect' or 'replicate')")
        windows = img.unfold(1, k, 1).unfold(2, k, 1)  # (C, H - 2r, W - 2r, k, k): the interior windows
        want = windows.flatten(3).median(dim=-1).values  # (C, H - 2r, W - 2r)
        inner = out[:, r:-r, r:-r]
        if not torch.allclose(inner, want, atol=1e-6):
            if torch.allclose(inner, windows.flatten(3).mean(dim=-1), atol=1e-5):
                _fail(case, "away from the border the output is the mean of each window, not its median",
                      "torch.median over the k*k values of each window (or .sort and the middle one)")
            _fail(case, "away from the border some pixels are not the median of their k x k window in their channel",
                  "F.unfold(x, k) gives (1, C*k*k, L): reshape to (C, k*k, H, W) and take the median over dim 1")
        flat = torch.full((1, 15, 15), 0.5)
        flat[0, 4, 4], flat[0, 10, 7], flat[0, 7, 11] = 1.0, 0.0, 1.0  # isolated salt and pepper
        if not torch.allclose(median(flat.clone(), k), torch.full_like(flat, 0.5), atol=1e-6):
            _fail(case, "isolated impulses on a flat image are not removed", "the median of a window ignores one outlier")
        step = torch.zeros(1, 9, 12)
        step[..., 6:] = 1.0  # a vertical edge between columns 5 and 6
        if not torch.equal(median(step.clone(), k), step):
            _fail(case, "a vertical step edge does not stay where it is", "the median of a window keeps a step sharp")
    _ok(name, "medians of k x k windows per channel, same size, impulses removed, edges kept")


# ---------------------------------------------------------------------------------------
# A confusion matrix (notebook 06)
# ---------------------------------------------------------------------------------------

def check_confusion_matrix(confusion: Callable, name: str = "confusion_matrix") -> None:
    """Check ``confusion(pred, target, num_classes)``: ``(K, K)`` counts, row = true class, column = predicted.

    Run on small hand-made and random class maps ``(B, H, W)`` where the last class never
    occurs, so that a matrix built without ``minlength`` comes out too small, and where the
    matrix is not symmetric, so that rows and columns swapped are told apart.
    """
    rng = torch.Generator().manual_seed(0)
    K = 4
    target = torch.randint(0, K - 1, (2, 5, 6), generator=rng)  # (B, H, W), class 3 never occurs
    pred = torch.where(torch.rand(target.shape, generator=rng) < 0.6, target,
                       torch.randint(0, K - 1, target.shape, generator=rng))  # (B, H, W)
    want = torch.zeros(K, K, dtype=torch.long)
    for t, p in zip(target.flatten().tolist(), pred.flatten().tolist()):
        want[t, p] += 1
    try:
        got = confusion(pred.clone(), target.clone(), K)
    except (NotImplementedError, CheckError):
        raise
    except Exception as err:
        _fail(name, f"raised {type(err).__name__}: {err}", "flatten both maps, then torch.bincount(target * K + pred, minlength=K * K)")
    got = _as_tensor(got, name, None)
    if tuple(got.shape) != (K, K):
        _fail(name, f"expected shape (K, K) = ({K}, {K}) when a class never occurs, got {tuple(got.shape)}",
              "torch.bincount(..., minlength=K * K) keeps the classes that never occur")
    if got.is_floating_point() and not torch.equal(got, got.round()):
        _fail(name, "holds fractions: expected counts of pixels", "count, do not normalise")
    got = got.long()
    if int(got.sum()) != target.numel():
        _fail(name, f"counts {int(got.sum())} pixels, the maps have {target.numel()}", "every pixel counts once")
    if torch.equal(got, want.T):
        _fail(name, "rows are the predicted classes: expected row = true class, column = predicted",
              "index target * K + pred, not pred * K + target")
    if not torch.equal(got, want):
        _fail(name, "some counts are wrong", "entry (i, j) counts pixels of true class i predicted as j")
    _ok(name, "(K, K) counts, rows true classes, columns predictions")


# ---------------------------------------------------------------------------------------
# A pre-norm Transformer encoder block (notebook 14)
# ---------------------------------------------------------------------------------------

def check_encoder_block(forward: Callable, name: str = "encoder block") -> None:
    """Check ``forward(block, x)`` computes a pre-norm block with ``block``'s own submodules.

    ``block`` is a ``course_lib.models.vit.EncoderBlock`` (``ln_1``, ``self_attention``, ``ln_2``,
    ``mlp``) with random LayerNorm parameters, so that swapping the two LayerNorms shows; ``x`` is
    ``(2, 5, 8)``. Expected: ``x = x + MHSA(LN_1(x))``, then ``x = x + MLP(LN_2(x))``. Typical
    slips are named: post-norm ``LN(x + MHSA(x))``, a missing residual, the MLP applied to the
    block's input instead of the attention's output, the LayerNorms swapped.
    """
    from course_lib.models.vit import EncoderBlock

    rng = torch.Generator().manual_seed(0)
    block = EncoderBlock(dim=8, num_heads=2, mlp_dim=16)
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.randn(p.shape, generator=rng) * 0.5)
        for ln in (block.ln_1, block.ln_2):
            ln.weight.add_(1.0)
    block.eval()
    x = torch.randn(2, 5, 8, generator=rng)  # (B, N, D)
    attn, mlp, ln1, ln2 = block.self_attention, block.mlp, block.ln_1, block.ln_2
    with torch.no_grad():
        try:
            y = forward(block, x.clone())
        except (NotImplementedError, CheckError):
            raise
        except Exception as err:
            _fail(name, f"raised {type(err).__name__}: {err}", "use block.ln_1, block.self_attention, block.ln_2, block.mlp")
        y = _as_tensor(y, name, None)
        if tuple(y.shape) != (2, 5, 8):
            _fail(name, f"expected shape (B, N, D) = (2, 5, 8), got {tuple(y.shape)}", "the block keeps the token shape")
        h = x + attn(ln1(x))
        want = h + mlp(ln2(h))
        post = ln1(x + attn(x))
        wrong = {
            "post-norm: the LayerNorm comes after the residual sum, LN(x + MHSA(x))":
                (ln2(post + mlp(post)), "pre-norm: x + MHSA(LN(x)), the LayerNorm inside the branch"),
            "the attention has no residual connection": (attn(ln1(x)) + mlp(ln2(attn(ln1(x)))), "x = x + MHSA(LN_1(x))"),
            "the MLP has no residual connection": (mlp(ln2(h)), "x = x + MLP(LN_2(x))"),
            "the MLP reads the block's input, not the output of the attention step":
                (h + mlp(ln2(x)), "update x after the attention, then feed that x to the MLP branch"),
            "the two LayerNorms are swapped": ((lambda g: g + mlp(ln1(g)))(x + attn(ln2(x))),
                                               "ln_1 before the attention, ln_2 before the MLP"),
        }
    if not torch.allclose(y, want, atol=1e-5):
        for problem, (value, hint) in wrong.items():
            if torch.allclose(y, value, atol=1e-5):
                _fail(name, problem, hint)
        _fail(name, "the output is not x + MHSA(LN_1(x)) followed by x + MLP(LN_2(x))",
              "two residual steps, each adding a branch that starts with its own LayerNorm")
    _ok(name, "pre-norm attention and MLP, each with its residual connection")


# ---------------------------------------------------------------------------------------
# The residual-learning loss of DnCNN (notebook 07)
# ---------------------------------------------------------------------------------------

def check_noise_loss(loss_fn: Callable, name: str = "noise_loss") -> None:
    """Check ``loss_fn(predict_noise, noisy, clean)``: the mean squared error between ``R(y)`` and ``y - x``.

    ``predict_noise`` is a fixed 3x3 convolution ``(B, 1, H, W) -> (B, 1, H, W)``; ``noisy`` and
    ``clean`` are ``(3, 1, 6, 6)`` images. The loss must be a scalar tensor that backpropagates
    into the network; its value is compared with the reference and with the usual slips:
    the clean image as target, the noise with the wrong sign, a sum instead of a mean.
    """
    rng = torch.Generator().manual_seed(0)
    net = nn.Conv2d(1, 1, 3, padding=1)  # R: (B, 1, H, W) -> (B, 1, H, W)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=rng) * 0.3)
    clean = torch.rand(3, 1, 6, 6, generator=rng)  # x in [0, 1]
    noisy = clean + 0.2 * torch.randn(clean.shape, generator=rng)  # y = x + n
    try:
        loss = loss_fn(net, noisy.clone(), clean.clone())
    except (NotImplementedError, CheckError):
        raise
    except Exception as err:
        _fail(name, f"raised {type(err).__name__}: {err}", "F.mse_loss(predict_noise(noisy), noisy - clean)")
    if not isinstance(loss, torch.Tensor):
        _fail(name, f"returned a {type(loss).__name__}, not a tensor: training cannot backpropagate through it",
              "return the loss tensor itself, not loss.item()")
    if loss.numel() != 1:
        _fail(name, f"expected a scalar loss, got shape {tuple(loss.shape)}", "average over every pixel of the batch")
    if not loss.requires_grad:
        _fail(name, "the loss does not depend on the network's parameters", "call predict_noise(noisy) inside the loss")
    with torch.no_grad():
        r = net(noisy)
        candidates = {
            "the target is the clean image; DnCNN's network predicts the noise y - x":
                (F.mse_loss(r, clean), "target noisy - clean"),
            "the target is the noise with the wrong sign, x - y": (F.mse_loss(r, clean - noisy), "noisy - clean"),
            "the loss is summed, not averaged": (F.mse_loss(r, noisy - clean, reduction="sum"), "F.mse_loss's default mean"),
            "the loss compares the denoised image with the noise": (F.mse_loss(noisy - r, noisy - clean), "compare R(y) itself"),
        }
        want = F.mse_loss(r, noisy - clean)
    value = float(loss.detach())
    if not math.isclose(value, float(want), rel_tol=1e-5, abs_tol=1e-8):
        for problem, (other, hint) in candidates.items():
            if math.isclose(value, float(other), rel_tol=1e-5, abs_tol=1e-8):
                _fail(name, problem, hint)
        _fail(name, "the value is not the mean squared error between R(y) and y - x",
              "F.mse_loss(predict_noise(noisy), noisy - clean)")
    grad = torch.autograd.grad(loss, list(net.parameters()), allow_unused=True)
    want_grad = torch.autograd.grad(F.mse_loss(net(noisy), noisy - clean), list(net.parameters()))
    if any(g is None for g in grad) or not _same(_flat(grad), _flat(want_grad)):
        _fail(name, "the right value, but the gradient does not reach the network as it should",
              "do not detach the prediction or compute it under no_grad")
    _ok(name, "the mean squared error between R(y) and the noise y - x")


# ---------------------------------------------------------------------------------------
# Unsharp masking (notebook 01)
# ---------------------------------------------------------------------------------------

def check_unsharp_mask(sharpen: Callable, name: str = "unsharp_mask") -> None:
    """Check ``sharpen(image, sigma, amount)`` = ``clip(image + amount * (image - blur(image)), 0, 1)``.

    ``blur`` is ``course_lib.classic.gaussian_blur`` (reflect padding), images are ``(C, H, W)``
    in [0, 1]. Checked in order: the output has the input's shape and stays in [0, 1]; a flat
    image is unchanged; ``amount = 0`` returns the image; an edge becomes steeper (the
    detail is added, not subtracted); the values match the formula.
    """
    from course_lib import classic

    def run(image: torch.Tensor, sigma: float, amount: float) -> torch.Tensor:
        try:
            out = sharpen(image.clone(), sigma, amount)
        except (NotImplementedError, CheckError):
            raise
        except Exception as err:
            _fail(name, f"raised {type(err).__name__}: {err}", "classic.gaussian_blur(image, sigma) works on (C, H, W)")
        out = _as_tensor(out, name, None)
        if tuple(out.shape) != tuple(image.shape):
            _fail(name, f"expected the input's shape {tuple(image.shape)}, got {tuple(out.shape)}", None)
        return out

    rng = torch.Generator().manual_seed(0)
    image = torch.rand(3, 12, 14, generator=rng)  # (C, H, W) in [0, 1]
    out = run(image, 1.0, 1.5)
    if out.min() < 0 or out.max() > 1:
        _fail(name, f"values leave [0, 1] (min {float(out.min()):.3g}, max {float(out.max()):.3g})",
              "clip the result: .clamp(0, 1)")
    flat = torch.full((1, 9, 9), 0.3)
    if not torch.allclose(run(flat, 1.0, 1.5), flat, atol=1e-6):
        _fail(name, "changes a flat image, which has no detail to sharpen", "add amount * (image - blur(image)) to the image")
    if not torch.allclose(run(image, 1.0, 0.0), image, atol=1e-6):
        _fail(name, "amount = 0 does not return the image", "the result is image + amount * detail")
    step = torch.full((1, 12, 12), 0.3)
    step[..., 6:] = 0.7  # a vertical edge between columns 5 and 6
    edge = run(step, 1.0, 0.5)
    if not float(edge[0, 6, 6] - edge[0, 6, 5]) > 0.4 + 1e-3:
        _fail(name, "an edge does not get steeper: the detail is subtracted, not added",
              "detail = image - blur(image); sharpened = image + amount * detail")
    want = (image + 1.5 * (image - classic.gaussian_blur(image, 1.0))).clamp(0, 1)
    if not torch.allclose(out, want, atol=1e-5):
        _fail(name, "the values differ from clip(image + amount * (image - gaussian_blur(image, sigma)), 0, 1)",
              "use classic.gaussian_blur(image, sigma) for the blur, then clamp(0, 1) at the end")
    _ok(name, "adds amount times the detail image - blur(image), clipped to [0, 1]")


# ---------------------------------------------------------------------------------------
# One decoder step of a U-Net (notebook 06)
# ---------------------------------------------------------------------------------------

def check_up_step(up_step: Callable, name: str = "up_step") -> None:
    """Check ``up_step(block, below, skip)``: ``block.conv([block.up(below); skip])``, skip concatenated second.

    ``block`` is a ``course_lib.models.unet.Up(8, 4, 4)``; ``below`` is ``(2, 8, 3, 3)`` and
    ``skip`` ``(2, 4, 6, 6)``. Named slips: the skip never reaches the output, the two parts
    concatenated in the other order, upsampling with interpolation instead of ``block.up``.
    """
    from course_lib.models.unet import Up

    with torch.random.fork_rng():  # Up's initialisation under a fixed seed, the caller's state kept
        torch.manual_seed(0)
        block = Up(8, 4, 4).eval()
    rng = torch.Generator().manual_seed(1)
    below, skip = torch.randn(2, 8, 3, 3, generator=rng), torch.randn(2, 4, 6, 6, generator=rng)  # (B, C, h, w)
    with torch.no_grad():
        try:
            y = up_step(block, below.clone(), skip.clone())
        except (NotImplementedError, CheckError):
            raise
        except Exception as err:
            _fail(name, f"raised {type(err).__name__}: {err}",
                  "block.up(below) is (B, 4, 6, 6); torch.cat([up, skip], dim=1) is (B, 8, 6, 6), what block.conv takes")
        y = _as_tensor(y, name, None)
        if tuple(y.shape) != (2, 4, 6, 6):
            _fail(name, f"expected shape (2, 4, 6, 6), got {tuple(y.shape)}", "block.conv(...) gives the output channels")
        want = block(below, skip)
        if torch.allclose(y, want, atol=1e-5):
            _ok(name, "upsamples with block.up, concatenates the skip on the channels, then block.conv")
            return
        if torch.allclose(up_step(block, below.clone(), torch.zeros_like(skip)), y, atol=1e-6):
            _fail(name, "the skip does not reach the output", "concatenate it: torch.cat([block.up(below), skip], dim=1)")
        up = block.up(below)  # (B, 4, 6, 6)
        if torch.allclose(y, block.conv(torch.cat([skip, up], dim=1)), atol=1e-5):
            _fail(name, "the skip comes first in the concatenation; block.conv was built for [Up(below); skip]",
                  "torch.cat([block.up(below), skip], dim=1)")
    _fail(name, "the output is not block.conv(torch.cat([block.up(below), skip], dim=1))",
          "upsample with block.up (a learned 2x2 transposed convolution), not F.interpolate")
