"""Vision Transformer: exact parity with torchvision's vit_b_16, attention, shapes, training."""

import math

import pytest
import torch
import torch.nn.functional as F
import torchvision

from course_lib.models.vit import MultiHeadSelfAttention, ViTConfig, VisionTransformer, vit_b_16


def tiny_config(**overrides):
    base = dict(image_size=28, patch_size=7, in_channels=1, dim=32, depth=2, num_heads=4,
                mlp_ratio=2.0, num_classes=10)
    base.update(overrides)
    return ViTConfig(**base)


@pytest.fixture(scope="module")
def vit_pair():
    torch.manual_seed(0)
    reference = torchvision.models.vit_b_16(weights=None).eval()
    ours = vit_b_16().eval()
    return reference, ours


def test_vit_b_16_state_dict_keys_and_shapes_match_torchvision(vit_pair):
    reference, ours = vit_pair
    ref_shapes = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    our_shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert our_shapes == ref_shapes


def test_vit_b_16_parameter_count(vit_pair):
    _, ours = vit_pair
    assert sum(p.numel() for p in ours.parameters()) == 86_567_656


def test_vit_b_16_loads_torchvision_weights_strictly_and_gives_same_logits(vit_pair):
    reference, ours = vit_pair
    # torchvision's head starts at zero: randomise it so the logits carry information
    with torch.no_grad():
        reference.heads.head.weight.normal_(std=0.02)
        reference.heads.head.bias.normal_(std=0.02)
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = reference(x), ours(x)
    assert got.shape == (2, 1000)
    assert want.abs().max() > 1e-2  # the comparison is not between two zero tensors
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    with torch.no_grad():  # the attention-map path gives the same logits as the fused kernel
        logits, maps = ours(x[:1], return_attention=True)
    torch.testing.assert_close(logits, want[:1], atol=1e-5, rtol=1e-4)
    assert len(maps) == 12 and maps[0].shape == (1, 12, 197, 197)


def test_wrong_input_size_raises_a_clear_value_error():
    model = VisionTransformer(tiny_config())
    with pytest.raises(ValueError, match=r"expected images of shape \(B, 1, 28, 28\), got \(2, 1, 32, 32\)"):
        model(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="got"):
        model(torch.zeros(2, 3, 28, 28))
    with pytest.raises(ValueError, match="multiple of patch_size"):
        ViTConfig(image_size=30, patch_size=7)


def test_attention_equals_manual_softmax_and_returns_probabilities():
    torch.manual_seed(0)
    attention = MultiHeadSelfAttention(dim=16, num_heads=4).eval()
    with torch.no_grad():
        attention.in_proj_bias.normal_()
    x = torch.randn(3, 5, 16)
    q, k, v = attention.qkv(x)  # (B, heads, N, d)
    manual = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(4), dim=-1) @ v  # (B, heads, N, d)
    manual = attention.out_proj(manual.transpose(1, 2).reshape(3, 5, 16))
    out, weights = attention(x, return_attention=True)
    torch.testing.assert_close(attention(x), manual, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out, manual, atol=1e-5, rtol=1e-5)
    assert weights.shape == (3, 4, 5, 5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4, 5))
    # and the same numbers as nn.MultiheadAttention with these parameters
    mha = torch.nn.MultiheadAttention(16, 4, batch_first=True).eval()
    mha.load_state_dict(attention.state_dict())
    ref, ref_weights = mha(x, x, x, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights, ref_weights, atol=1e-6, rtol=1e-5)


def test_tiny_vit_shapes_patches_and_attention_maps():
    model = VisionTransformer(tiny_config()).eval()
    x = torch.rand(4, 1, 28, 28)
    assert model.patchify(x).shape == (4, 16, 32)
    logits, maps = model(x, return_attention=True)
    assert logits.shape == (4, 10) and len(maps) == 2 and maps[0].shape == (4, 4, 17, 17)
    assert model.attention_maps(x).shape == (2, 4, 4, 17, 17)
    torch.testing.assert_close(model(x), logits)


def test_tiny_vit_overfits_one_batch_and_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    model = VisionTransformer(tiny_config())
    x, y = torch.rand(16, 1, 28, 28), torch.arange(16) % 10
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(60):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        if step == 1:  # after one step the zero-initialised head passes gradient to every parameter
            missing = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
            assert not missing, missing
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]
    assert (model(x).argmax(1) == y).all()
