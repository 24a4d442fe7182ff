"""Tests of the CycleGAN parts of course_lib: models.cyclegan and the cycle/identity losses."""

from __future__ import annotations

import ast
import inspect

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import course_lib.models.cyclegan as cyclegan
from course_lib.losses import cycle_consistency_loss, gan_d_loss, gan_g_loss, identity_loss
from course_lib.models.cyclegan import CycleResidualBlock, PatchDiscriminator, ResnetGenerator


def _small_generator(in_channels=1, out_channels=None, num_downsampling=2):
    torch.manual_seed(0)
    return ResnetGenerator(in_channels, out_channels, base_channels=4, num_blocks=2, num_downsampling=num_downsampling)


# =============================================================================================
# Generator
# =============================================================================================
@pytest.mark.parametrize("shape", [(2, 1, 28, 28), (1, 3, 32, 48), (3, 3, 16, 20), (1, 1, 8, 8)])
def test_generator_output_has_the_input_shape_and_range(shape):
    G = _small_generator(shape[1])
    x = torch.rand(shape) * 2 - 1
    y = G(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all() and y.min() >= -1 and y.max() <= 1


def test_generator_can_change_the_number_of_channels():
    G = _small_generator(1, 3)
    assert G(torch.zeros(2, 1, 12, 16)).shape == (2, 3, 12, 16)


@pytest.mark.parametrize("size", [(70, 70), (28, 30), (27, 28)])
def test_generator_refuses_sizes_not_divisible_by_4_and_says_what_it_expected(size):
    G = _small_generator(1)
    with pytest.raises(ValueError) as err:
        G(torch.zeros(1, 1, *size))
    message = str(err.value)
    assert "divisible by 4" in message and f"({size[0]}, {size[1]})" in message


def test_generator_checks_the_divisor_for_its_own_depth():
    G = _small_generator(1, num_downsampling=3)
    assert G(torch.zeros(1, 1, 24, 16)).shape == (1, 1, 24, 16)
    with pytest.raises(ValueError, match="divisible by 8"):
        G(torch.zeros(1, 1, 28, 28))


def test_generator_refuses_the_wrong_number_of_channels():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        _small_generator(3)(torch.zeros(1, 1, 16, 16))


def test_generator_parameter_count_matches_the_paper_configuration():
    G = ResnetGenerator(3, base_channels=64, num_blocks=9)
    assert sum(p.numel() for p in G.parameters()) == 11_378_179


def test_generator_uses_instance_norm_and_reflection_padding_only():
    G = ResnetGenerator(3, base_channels=8, num_blocks=3)
    blocks = [m for m in G.modules() if isinstance(m, CycleResidualBlock)]
    assert len(blocks) == 3
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.ZeroPad2d)) for m in G.modules())
    for block in blocks:
        kinds = [type(m) for m in block.body]
        assert kinds.count(nn.InstanceNorm2d) == 2 and kinds.count(nn.ReflectionPad2d) == 2
        assert all(conv.padding == (0, 0) for conv in block.body if isinstance(conv, nn.Conv2d))


def test_residual_block_is_a_residual_and_keeps_the_shape():
    torch.manual_seed(0)
    block = CycleResidualBlock(6)
    x = torch.randn(2, 6, 9, 7)
    assert block(x).shape == x.shape
    torch.testing.assert_close(block(x), x + block.body(x))


def test_every_class_name_in_the_module_is_unique_and_there_is_no_generic_residual_block():
    tree = ast.parse(inspect.getsource(cyclegan))
    names = [node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    assert len(names) == len(set(names)), f"duplicate class names: {names}"
    assert "ResidualBlock" not in names


def test_generator_output_of_one_image_does_not_depend_on_the_rest_of_the_batch():
    G = _small_generator(1)  # InstanceNorm: per-image statistics, unlike a BatchNorm generator
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    torch.testing.assert_close(G(x)[:1], G(x[:1]), atol=1e-5, rtol=1e-4)


def test_every_generator_parameter_receives_a_gradient():
    G = _small_generator(1)
    G(torch.rand(2, 1, 16, 16) * 2 - 1).square().mean().backward()
    for name, p in G.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


# =============================================================================================
# PatchGAN discriminator
# =============================================================================================
@pytest.mark.parametrize("num_layers, size, expected", [(3, 256, 30), (3, 128, 14), (2, 28, 5), (2, 32, 6)])
def test_patch_discriminator_returns_a_map_of_logits(num_layers, size, expected):
    D = PatchDiscriminator(1, base_channels=4, num_layers=num_layers)
    logits = D(torch.rand(2, 1, size, size) * 2 - 1)
    assert logits.shape == (2, 1, expected, expected)
    assert torch.isfinite(logits).all() and (logits < 0).any()  # logits, not probabilities


@pytest.mark.parametrize("num_layers, patch", [(3, 70), (2, 34), (1, 16)])
def test_patch_size_is_the_measured_receptive_field(num_layers, patch):
    torch.manual_seed(0)
    D = PatchDiscriminator(1, base_channels=4, num_layers=num_layers)
    assert D.patch_size == patch
    # InstanceNorm couples all positions through its statistics; without it, one logit sees only its patch
    for i, layer in enumerate(D.net):
        if isinstance(layer, nn.InstanceNorm2d):
            D.net[i] = nn.Identity()
        if isinstance(layer, nn.LeakyReLU):
            D.net[i] = nn.LeakyReLU(0.2)  # not in place, so the gradient path is plain
    x = torch.randn(1, 1, 160, 160, requires_grad=True)
    out = D(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(dim=1)).flatten()
    cols = torch.nonzero(x.grad[0, 0].abs().sum(dim=0)).flatten()
    assert int(rows.max() - rows.min() + 1) == patch and int(cols.max() - cols.min() + 1) == patch


def test_gan_losses_accept_the_patch_map_and_average_over_it():
    torch.manual_seed(0)
    real, fake = torch.randn(3, 1, 5, 5), torch.randn(3, 1, 5, 5)
    by_formula = -F.logsigmoid(real).mean() - F.logsigmoid(-fake).mean()
    torch.testing.assert_close(gan_d_loss(real, fake), by_formula)
    torch.testing.assert_close(gan_g_loss(fake), -F.logsigmoid(fake).mean())


# =============================================================================================
# Losses
# =============================================================================================
def test_cycle_and_identity_losses_match_the_l1_formula():
    torch.manual_seed(0)
    a, b = torch.rand(2, 3, 4, 5) * 2 - 1, torch.rand(2, 3, 4, 5) * 2 - 1
    expected = sum(abs(float(x) - float(y)) for x, y in zip(a.flatten(), b.flatten())) / a.numel()
    assert cycle_consistency_loss(a, b).item() == pytest.approx(expected, rel=1e-5)
    assert identity_loss(a, b).item() == pytest.approx(expected, rel=1e-5)
    assert cycle_consistency_loss(a, a).item() == 0.0 and identity_loss(b, b).item() == 0.0
    hand = torch.zeros(1, 1, 2, 2), torch.tensor([[[[1.0, -1.0], [0.5, 0.0]]]])
    assert cycle_consistency_loss(*hand).item() == pytest.approx(2.5 / 4)


@pytest.mark.parametrize("loss", [cycle_consistency_loss, identity_loss])
def test_losses_refuse_mismatched_shapes(loss):
    with pytest.raises(ValueError, match=r"\(2, 1, 8, 8\)"):
        loss(torch.zeros(2, 1, 8, 4), torch.zeros(2, 1, 8, 8))


def test_cycle_loss_gradient_reaches_both_generators():
    G_ab, G_ba = _small_generator(1), _small_generator(1)
    a = torch.rand(2, 1, 8, 8) * 2 - 1
    cycle_consistency_loss(G_ba(G_ab(a)), a).backward()
    for G in (G_ab, G_ba):
        assert all(p.grad is not None for p in G.parameters())


def test_one_batch_cycle_training_makes_the_losses_fall():
    """Cycle + identity losses on one batch of two domains: the round-trip error must fall."""
    torch.manual_seed(0)
    a = (torch.rand(4, 1, 8, 8) > 0.7).float() * 2 - 1  # sparse dots
    b = -a  # the "inverted" domain
    G_ab, G_ba = (ResnetGenerator(1, base_channels=4, num_blocks=1) for _ in range(2))
    opt = torch.optim.Adam([*G_ab.parameters(), *G_ba.parameters()], lr=3e-3)

    def total():
        cyc = cycle_consistency_loss(G_ba(G_ab(a)), a) + cycle_consistency_loss(G_ab(G_ba(b)), b)
        return cyc + 0.5 * (identity_loss(G_ab(b), b) + identity_loss(G_ba(a), a)), cyc

    first = total()[1].item()
    for _ in range(20):
        opt.zero_grad()
        total()[0].backward()
        opt.step()
    assert total()[1].item() < 0.7 * first  # measured: 1.96 -> 1.03
