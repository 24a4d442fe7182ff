"""Tests for course_lib.models.inpainting and course_lib.data.masks (notebook 13)."""

import pytest
import torch
from skimage.restoration import inpaint_biharmonic

from course_lib.data import load_image
from course_lib.data.masks import box_masks, hole_fraction, stroke_masks
from course_lib.models.inpainting import (InpaintingUNet, _laplacian_neumann_adjoint, biharmonic_fill, blur_fill,
                                          compose, hole_psnr, laplacian_neumann, masked_l1, masked_mse, mean_fill,
                                          pad_to_multiple)


@pytest.mark.parametrize("size", [(64, 64), (100, 100), (37, 53)])
def test_output_shape_known_pixels_and_range(size):
    torch.manual_seed(0)
    H, W = size
    net = InpaintingUNet(base=8, depth=3).eval()
    x = torch.rand(2, 3, H, W)
    m = box_masks(2, H, W, generator=1)
    with torch.no_grad():
        out = net(x, m)
    assert out.shape == x.shape
    assert torch.equal(out[m.expand_as(x) == 0], x[m.expand_as(x) == 0])  # known pixels exact
    assert out.min() >= 0 and out.max() <= 1


def test_pad_to_multiple():
    x, (H, W) = pad_to_multiple(torch.rand(1, 3, 100, 37), 8)
    assert x.shape[-2:] == (104, 40) and (H, W) == (100, 37)


@pytest.mark.parametrize("make", [box_masks, stroke_masks])
def test_mask_fraction_and_determinism(make):
    m1 = make(16, 48, 40, hole_range=(0.15, 0.3), generator=3)
    m2 = make(16, 48, 40, hole_range=(0.15, 0.3), generator=torch.Generator().manual_seed(3))
    assert m1.shape == (16, 1, 48, 40) and m1.dtype == torch.float32
    assert torch.equal(m1, m2)
    assert set(m1.unique().tolist()) <= {0.0, 1.0}
    f = hole_fraction(m1)
    assert (f >= 0.15).all() and (f <= 0.3).all()
    assert not torch.equal(m1, make(16, 48, 40, hole_range=(0.15, 0.3), generator=4))


def test_hole_psnr_manual_and_ignores_known():
    target = torch.zeros(1, 3, 4, 4)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :2] = 1  # 4 hole pixels
    pred = target.clone()
    pred[..., :2, :2] = 0.1  # error 0.1 everywhere in the hole -> MSE 0.01 -> 20 dB
    assert torch.allclose(hole_psnr(pred, target, mask), torch.tensor([20.0]), atol=1e-4)
    pred2 = pred.clone()
    pred2[..., 3, 3] = 0.9  # a known pixel changes: no effect
    assert torch.allclose(hole_psnr(pred2, target, mask), hole_psnr(pred, target, mask))
    # random case against a manual computation
    g = torch.Generator().manual_seed(0)
    p, t = torch.rand(3, 3, 8, 8, generator=g), torch.rand(3, 3, 8, 8, generator=g)
    m = box_masks(3, 8, 8, generator=0)
    for b in range(3):
        sel = m[b, 0].bool()
        mse = ((p[b][:, sel] - t[b][:, sel]) ** 2).mean()
        assert torch.allclose(hole_psnr(p, t, m)[b], 10 * torch.log10(1 / mse), atol=1e-4)


def test_masked_l1_ignores_known_with_zero_weight():
    g = torch.Generator().manual_seed(0)
    t, p = torch.rand(2, 3, 8, 8, generator=g), torch.rand(2, 3, 8, 8, generator=g)
    m = box_masks(2, 8, 8, generator=0)
    p2 = p + (1 - m) * 5.0
    assert torch.allclose(masked_l1(p, t, m), masked_l1(p2, t, m))
    assert masked_l1(p2, t, m, known_weight=0.1) > masked_l1(p, t, m, known_weight=0.1)


def test_baselines_keep_known_and_fill_hole():
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    m = box_masks(2, 32, 32, hole_range=(0.25, 0.3), generator=0)
    for fill in (mean_fill, blur_fill):
        out = fill(x, m)
        assert out.shape == x.shape and torch.isfinite(out).all()
        assert torch.equal(out * (1 - m), x * (1 - m))
        assert out.min() >= 0 and out.max() <= 1
    assert torch.allclose(compose(torch.ones_like(x), x, m), m + (1 - m) * x)


def test_one_batch_overfit_decreases_hole_loss():
    torch.manual_seed(0)
    ramp = torch.linspace(0, 1, 16)
    x = torch.rand(4, 3, 1, 1) * 0.5 + 0.5 * ramp.view(1, 1, 1, 16) * ramp.view(1, 1, 16, 1)  # smooth images
    m = box_masks(4, 16, 16, generator=0)
    net = InpaintingUNet(base=8, depth=2, residual=False)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = masked_l1(net.predict(x, m), x, m)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_mask_shape_mismatch_error():
    net = InpaintingUNet(base=8, depth=2)
    with pytest.raises(ValueError, match=r"expected \(B, 1, H, W\).*got \(2, 3, 16, 16\)"):
        net(torch.rand(2, 3, 16, 16), torch.zeros(2, 3, 16, 16))
    with pytest.raises(ValueError, match="mask shape mismatch"):
        hole_psnr(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), torch.zeros(1, 1, 8, 9))


def test_residual_network_starts_as_its_coarse_fill_and_plain_variant_differs():
    x = torch.rand(2, 3, 37, 53, generator=torch.Generator().manual_seed(0))
    m = stroke_masks(2, 37, 53, generator=0)
    with torch.no_grad():
        # 2e-4: the logit of a fill value clamped at exactly 0 or 1 is taken at 1e-4 or 1 - 1e-4
        assert torch.allclose(InpaintingUNet(base=8)(x, m), biharmonic_fill(x, m), atol=2e-4)
        assert torch.allclose(InpaintingUNet(base=8, coarse="blur")(x, m), blur_fill(x, m), atol=1e-5)
        plain = InpaintingUNet(base=8, residual=False)(x, m)
    assert plain.shape == x.shape and not torch.allclose(plain, blur_fill(x, m), atol=1e-3)
    with pytest.raises(ValueError, match="coarse must be one of"):
        InpaintingUNet(coarse="median")


def _last_decoder_alive(net, x, m):
    """Share of positive activations at the output of the last (full-resolution) decoder block."""
    out = {}
    hook = net.dec[0].register_forward_hook(lambda mod, inp, o: out.__setitem__("alive", (o > 0).float().mean().item()))
    with torch.no_grad():
        net.predict(x, m)
    hook.remove()
    return out["alive"]


def test_residual_training_keeps_last_decoder_relus_alive():
    """Regression: without normalisation the zero-initialised head plus Adam killed the ReLUs of
    the last decoder block within ~50 steps (0.2 % alive), so the head saw zeros and the trained
    network stayed equal to the blur fill. GroupNorm keeps the pre-activations centred."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    net = InpaintingUNet(base=8, depth=3)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    ramp = torch.linspace(0, 1, 32)
    for _ in range(40):
        x = (torch.rand(8, 3, 1, 1, generator=g) * ramp.view(1, 1, 1, 32) + 0.3 * torch.rand(8, 3, 32, 32, generator=g)).clamp(0, 1)
        m = box_masks(8, 32, 32, generator=g)
        loss = masked_l1(net.predict(x, m), x, m)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert _last_decoder_alive(net, x, m) > 0.2
    assert net.head.weight.abs().sum() > 0  # the head has moved away from its zero initialisation


def test_masked_mse_matches_hole_psnr_and_ignores_known():
    g = torch.Generator().manual_seed(0)
    t, p = torch.rand(1, 3, 8, 8, generator=g), torch.rand(1, 3, 8, 8, generator=g)
    m = box_masks(1, 8, 8, generator=0)
    mse = masked_mse(p, t, m)
    assert torch.allclose(10 * torch.log10(1 / mse), hole_psnr(p, t, m)[0], atol=1e-4)
    assert torch.allclose(masked_mse(p + (1 - m) * 3.0, t, m), mse)


# --- biharmonic_fill (torch, batched) -----------------------------------------------------


def _skimage_biharmonic(images, masks):
    out = [inpaint_biharmonic(x.permute(1, 2, 0).double().numpy(), m[0].numpy().astype(bool), channel_axis=-1)
           for x, m in zip(images, masks)]
    return compose(torch.stack([torch.from_numpy(o).permute(2, 0, 1).float() for o in out]).clamp(0, 1), images, masks)


def _photo_crops(n, size=64, seed=0):
    img = load_image("astronaut")
    g = torch.Generator().manual_seed(seed)
    tops = torch.randint(0, img.shape[1] - size, (n,), generator=g)
    lefts = torch.randint(0, img.shape[2] - size, (n,), generator=g)
    return torch.stack([img[:, t:t + size, l:l + size] for t, l in zip(tops.tolist(), lefts.tolist())])


def test_laplacian_adjoint_is_the_transpose():
    g = torch.Generator().manual_seed(0)
    u, r = torch.randn(3, 7, 9, generator=g), torch.randn(3, 7, 9, generator=g)
    assert torch.allclose((laplacian_neumann(u) * r).sum(), (u * _laplacian_neumann_adjoint(r)).sum(), atol=1e-4)
    assert torch.allclose(laplacian_neumann(torch.full((1, 5, 5), 0.3)), torch.zeros(1, 5, 5))  # constants


def test_biharmonic_fill_recovers_a_quadratic_exactly():
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 40), torch.linspace(0, 1, 40), indexing="ij")
    surface = 0.2 + 0.3 * xx + 0.2 * yy + 0.2 * xx * yy + 0.1 * yy**2  # Delta^2 = 0, values in [0, 1]
    x = torch.stack([surface, 1 - surface, 0.5 * surface]).unsqueeze(0)  # (1, 3, 40, 40)
    m = torch.zeros(1, 1, 40, 40)
    m[..., 8:30, 10:28] = 1  # a hole away from the image border
    out = biharmonic_fill(x, m, iters=200)
    assert torch.allclose(out, x, atol=1e-4)


def test_biharmonic_fill_matches_skimage_away_from_the_border():
    x = _photo_crops(4)
    m = torch.zeros(4, 1, 64, 64)
    m[0, :, 10:40, 12:30] = 1
    m[1, :, 20:50, 5:60] = 1
    m[2] = stroke_masks(1, 64, 64, generator=1)[0]
    m[2, :, :3], m[2, :, -3:], m[2, :, :, :3], m[2, :, :, -3:] = 0, 0, 0, 0  # keep 3 pixels from the border
    m[3, :, 30:34, 2:62] = 1
    ref = _skimage_biharmonic(x, m)
    out = biharmonic_fill(x, m, iters=1000)  # converged: the same equation, the same solution
    assert (out - ref).abs().max() < 1e-4


def test_biharmonic_fill_default_settings_score_like_skimage():
    x = _photo_crops(16, seed=1)
    for make in (box_masks, stroke_masks):
        m = make(16, 64, 64, hole_range=(0.1, 0.3), generator=2)
        ours = hole_psnr(biharmonic_fill(x, m), x, m).mean()
        theirs = hole_psnr(_skimage_biharmonic(x, m), x, m).mean()
        assert abs(float(ours - theirs)) < 0.15, (make.__name__, float(ours), float(theirs))


def test_biharmonic_fill_keeps_known_pixels_range_and_rejects_bad_masks():
    x = torch.rand(2, 3, 24, 30, generator=torch.Generator().manual_seed(0))
    m = box_masks(2, 24, 30, hole_range=(0.2, 0.4), generator=0)
    out = biharmonic_fill(x, m)
    assert out.shape == x.shape
    assert torch.equal(out * (1 - m), x * (1 - m))
    assert out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match=r"expected \(B, 1, H, W\).*got \(2, 3, 24, 30\)"):
        biharmonic_fill(x, m.expand(2, 3, 24, 30))
    with pytest.raises(ValueError, match="at least one known pixel"):
        biharmonic_fill(x, torch.ones(2, 1, 24, 30))
