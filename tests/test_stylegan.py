"""Tests of the style-based generator (course_lib.models.stylegan)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.models.stylegan import (AdaIN, PixelNorm, StyleGANConfig, StyleGenerator, mix_styles,
                                         truncate)

LATENT = 8


def _generator(image_size=28, channels=1, **overrides):
    torch.manual_seed(0)
    config = StyleGANConfig(latent_dim=LATENT, w_dim=12, mapping_layers=2, image_size=image_size,
                            channels=channels, max_channels=16, min_channels=8, **overrides)
    return StyleGenerator(config)


def _with_noise_scales(G, value=0.5):
    """The noise scales start at 0 (as in the paper); give them a value to see the noise."""
    with torch.no_grad():
        for block in G.blocks:
            for layer in block.layers:
                layer.noise.weight.fill_(value)
    return G


def _adain_outputs(G, *args, **kwargs):
    """Run G and return (images, the output of every AdaIN in layer order)."""
    outputs = []
    handles = [m.register_forward_hook(lambda mod, inp, out: outputs.append(out.detach()))
               for m in G.modules() if isinstance(m, AdaIN)]
    try:
        images = G(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return images, outputs


# =============================================================================================
# Shapes, ranges, inputs
# =============================================================================================
@pytest.mark.parametrize("image_size, channels, num_ws", [(28, 1, 6), (32, 1, 8), (32, 3, 8), (28, 3, 6)])
def test_output_shape_and_range(image_size, channels, num_ws):
    G = _generator(image_size, channels).eval()
    assert G.num_ws == num_ws and G.layer_resolutions[-1] == image_size
    images = G(torch.randn(3, LATENT))
    assert images.shape == (3, channels, image_size, image_size)
    assert torch.isfinite(images).all() and images.min() >= -1 and images.max() <= 1
    with torch.no_grad():
        G.to_image.weight.mul_(1e3)  # saturating pre-activations stay inside [-1, 1]
    images = G(torch.randn(3, LATENT))
    assert images.min() >= -1 and images.max() <= 1 and images.abs().max() > 0.99


@pytest.mark.parametrize("size", [30, 36, 3, 9, 7])
def test_unsupported_image_size_raises(size):
    with pytest.raises(ValueError, match=f"got {size}"):
        _generator(size)


def test_wrong_latent_shape_raises():
    G = _generator()
    with pytest.raises(ValueError, match=rf"\(B, {LATENT}\)"):
        G(torch.randn(2, LATENT + 1))
    with pytest.raises(ValueError, match="ws of shape"):
        G.synthesis(torch.randn(2, 3, 12))


def test_pixel_norm_gives_unit_rms_and_makes_the_mapping_scale_invariant():
    z = torch.randn(5, LATENT) * 7
    torch.testing.assert_close(PixelNorm()(z).pow(2).mean(dim=1), torch.ones(5))
    G = _generator()
    torch.testing.assert_close(G.mapping(z), G.mapping(3 * z))


# =============================================================================================
# Gradients: the constant and every style layer are used
# =============================================================================================
def test_constant_every_style_affine_and_the_mapping_receive_gradients():
    G = _with_noise_scales(_generator())
    G(torch.randn(4, LATENT)).square().mean().backward()
    assert G.const.grad is not None and G.const.grad.abs().sum() > 0
    adains = [m for m in G.modules() if isinstance(m, AdaIN)]
    assert len(adains) == G.num_ws
    for i, adain in enumerate(adains):
        assert adain.style.weight.grad is not None and adain.style.weight.grad.abs().sum() > 0, f"style layer {i}"
    for name, p in G.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_noise_scales_get_a_gradient_even_while_they_are_zero():
    G = _generator()
    G(torch.randn(4, LATENT)).square().mean().backward()
    for block in G.blocks:
        for layer in block.layers:
            assert layer.noise.weight.abs().sum() == 0 and layer.noise.weight.grad.abs().sum() > 0


# =============================================================================================
# The output depends on z, on the noise, and on nothing else
# =============================================================================================
def test_output_changes_with_z_and_is_deterministic_given_z_and_noise():
    G = _generator().eval()
    z = torch.randn(4, LATENT)
    a, b = G(z, noise="zero"), G(z, noise="zero")
    torch.testing.assert_close(a, b)
    other = G(torch.randn(4, LATENT), noise="zero")
    assert (a - other).abs().flatten(1).mean(dim=1).min() > 1e-3  # every sample changed
    per_sample = (a[0] - a[1:]).abs().flatten(1).mean(dim=1)
    assert per_sample.min() > 1e-3  # different z in one batch: different images


def test_output_changes_with_the_noise_once_the_scales_are_nonzero():
    G = _generator().eval()
    z = torch.randn(2, LATENT)
    torch.testing.assert_close(G(z, noise="random"), G(z, noise="zero"))  # scales start at 0
    _with_noise_scales(G, 0.3)
    n1, n2 = G.make_noise(2, torch.Generator().manual_seed(1)), G.make_noise(2, torch.Generator().manual_seed(2))
    assert [tuple(n.shape) for n in n1] == [(2, 1, r, r) for r in G.layer_resolutions]
    torch.testing.assert_close(G(z, noise=n1), G(z, noise=n1))
    difference = (G(z, noise=n1) - G(z, noise=n2)).abs().mean()
    assert difference > 1e-3
    # noise only in the last layer changes the image less than noise everywhere
    only_last = [torch.zeros_like(n) for n in n1[:-1]] + [n1[-1]]
    assert 0 < (G(z, noise=only_last) - G(z, noise="zero")).abs().mean() < (G(z, noise=n1) - G(z, noise="zero")).abs().mean()


# =============================================================================================
# Truncation
# =============================================================================================
def test_truncate_formula():
    w, w_avg = torch.randn(3, 5), torch.randn(5)
    torch.testing.assert_close(truncate(w, w_avg, 1.0), w)
    torch.testing.assert_close(truncate(w, w_avg, 0.0), w_avg.expand(3, 5))
    torch.testing.assert_close(truncate(w, w_avg, 0.7), w_avg + 0.7 * (w - w_avg))


def test_psi_zero_gives_the_image_of_w_avg_for_every_z():
    G = _generator().eval()
    G.update_w_avg(2000, generator=torch.Generator().manual_seed(0))
    assert G.w_avg.abs().sum() > 0
    images = G(torch.randn(5, LATENT), psi=0.0, noise="zero")
    torch.testing.assert_close(images, images[:1].expand_as(images))
    ws_avg = G.w_avg.expand(1, G.num_ws, -1)  # (1, num_ws, w_dim)
    torch.testing.assert_close(images[:1], G.synthesis(ws_avg, noise="zero"))
    z = torch.randn(64, LATENT)
    spread = [G(z, psi=psi, noise="zero").std(dim=0).mean().item() for psi in (1.0, 0.5, 0.0)]
    assert spread[0] > spread[1] > spread[2] == pytest.approx(0.0, abs=1e-6)


def test_w_avg_is_a_buffer_tracked_in_train_mode_only():
    G = _generator()
    assert "w_avg" in G.state_dict() and "w_avg" not in dict(G.named_parameters())
    assert G.w_avg.abs().sum() == 0
    z = torch.randn(256, LATENT)
    G.eval()
    G(z)
    assert G.w_avg.abs().sum() == 0  # eval mode does not move it
    G.train()
    G(z)
    expected = (1 - G.config.w_avg_beta) * G.mapping(z).mean(dim=0)
    torch.testing.assert_close(G.w_avg, expected.detach())
    assert G.to(torch.float64).w_avg.dtype == torch.float64


# =============================================================================================
# Style mixing
# =============================================================================================
def test_mix_styles_takes_layers_before_the_crossover_from_the_first_latent():
    ws1, ws2 = torch.zeros(2, 6, 3), torch.ones(2, 6, 3)
    mixed = mix_styles(ws1, ws2, 2)
    assert mixed[:, :2].eq(0).all() and mixed[:, 2:].eq(1).all()
    torch.testing.assert_close(mix_styles(ws1, ws2, 6), ws1)
    torch.testing.assert_close(mix_styles(ws1, ws2, 0), ws2)
    with pytest.raises(ValueError, match=r"\[0, 6\]"):
        mix_styles(ws1, ws2, 7)


def test_mixing_gives_coarse_layers_of_one_latent_and_fine_statistics_of_the_other():
    G = _generator().eval()
    z1, z2 = torch.randn(3, LATENT), torch.randn(3, LATENT)
    crossover = 4  # layers 0-3 (7x7 and 14x14) from z1, layers 4-5 (28x28) from z2
    image1, feats1 = _adain_outputs(G, z1, noise="zero")
    image2, feats2 = _adain_outputs(G, z2, noise="zero")
    mixed, feats_mixed = _adain_outputs(G, z1, z_mix=z2, crossover=crossover, noise="zero")
    # 1. the coarse layers are exactly those of z1's image
    for layer in range(crossover):
        torch.testing.assert_close(feats_mixed[layer], feats1[layer])
    # 2. each fine layer's per-channel mean and std (what AdaIN sets) are those of z2's image
    for layer in range(crossover, G.num_ws):
        for stat in (lambda t: t.mean(dim=(2, 3)), lambda t: t.std(dim=(2, 3))):
            torch.testing.assert_close(stat(feats_mixed[layer]), stat(feats2[layer]), atol=2e-3, rtol=2e-3)
            assert (stat(feats_mixed[layer]) - stat(feats1[layer])).abs().max() > 1e-2
    # 3. the image is neither of the two
    assert (mixed - image1).abs().mean() > 1e-4 and (mixed - image2).abs().mean() > 1e-4
    # 4. the crossover's extremes give back the two images
    torch.testing.assert_close(G(z1, z_mix=z2, crossover=G.num_ws, noise="zero"), image1)
    torch.testing.assert_close(G(z1, z_mix=z2, crossover=0, noise="zero"), image2)
    with pytest.raises(ValueError, match="crossover"):
        G(z1, z_mix=z2)


def test_mixing_regularisation_acts_in_train_mode_only():
    z = torch.randn(1, LATENT).expand(4, -1)  # four copies of one z
    for prob, expect_same in ((0.0, True), (1.0, False)):
        G = _generator(style_mixing_prob=prob)
        G.train()
        images = G(z, noise="zero")
        same = torch.allclose(images, images[:1].expand_as(images), atol=1e-6)
        assert same == expect_same
        G.eval()
        images = G(z, noise="zero")
        assert torch.allclose(images, images[:1].expand_as(images), atol=1e-6)


def test_adain_sets_the_channel_statistics_from_the_style():
    torch.manual_seed(0)
    adain = AdaIN(4, 6)
    x, w = torch.randn(2, 4, 9, 9) * 5 + 3, torch.randn(2, 6)
    out = adain(x, w)
    y_s, y_b = adain.style(w).chunk(2, dim=1)
    torch.testing.assert_close(out.mean(dim=(2, 3)), y_b, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.var(dim=(2, 3), unbiased=False), y_s ** 2, atol=1e-3, rtol=1e-3)


# =============================================================================================
# Training
# =============================================================================================
def test_one_batch_regression_loss_falls():
    """Fit four fixed images from four fixed z (no noise): every part of G must be trainable."""
    G = _generator(style_mixing_prob=0.0)
    torch.manual_seed(1)
    z = torch.randn(4, LATENT)
    targets = torch.zeros(4, 1, 28, 28) - 1
    for i in range(4):  # a bar at a different place in each image
        targets[i, :, 4 + 5 * i:8 + 5 * i, 6:22] = 1
    opt = torch.optim.Adam(G.parameters(), lr=1e-2)
    first = F.l1_loss(G(z, noise="zero"), targets).item()
    for _ in range(40):
        opt.zero_grad()
        loss = F.l1_loss(G(z, noise="zero"), targets)
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
