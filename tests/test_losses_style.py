import pytest
import torch

from course_lib.losses import content_loss, gram_matrix, perceptual_loss, style_loss, total_variation_loss


def test_gram_known_values_and_einsum():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)  # C=2, H=1, W=2
    expected = torch.tensor([[1 + 4, 3 + 8], [3 + 8, 9 + 16]]) / 4.0
    torch.testing.assert_close(gram_matrix(f)[0], expected)
    x = torch.randn(2, 3, 4, 5)
    ref = torch.einsum("bchw,bdhw->bcd", x, x) / (3 * 4 * 5)
    torch.testing.assert_close(gram_matrix(x), ref)


def test_style_loss_invariant_to_spatial_shuffle():
    torch.manual_seed(0)
    feats = {"a": torch.randn(1, 4, 6, 6), "b": torch.randn(1, 8, 3, 3)}
    style = {k: gram_matrix(torch.randn_like(v)) for k, v in feats.items()}
    shuffled = {}
    for k, v in feats.items():
        perm = torch.randperm(v.shape[2] * v.shape[3])
        shuffled[k] = v.flatten(2)[:, :, perm].view_as(v)
    torch.testing.assert_close(style_loss(feats, style), style_loss(shuffled, style))
    assert style_loss(feats, {k: gram_matrix(v) for k, v in feats.items()}) == 0
    weighted = style_loss(feats, style, layer_weights={"a": 2.0, "b": 0.0})
    torch.testing.assert_close(weighted, 2 * style_loss(feats, {"a": style["a"]}))


def test_content_loss_zero_for_identical():
    f = torch.randn(2, 3, 4, 4)
    assert content_loss(f, f.clone()) == 0
    assert content_loss(f, f + 1) == pytest.approx(1.0)


def test_total_variation_values():
    assert total_variation_loss(torch.full((1, 3, 5, 5), 0.7)) == 0
    x = torch.tensor([[0.0, 1.0], [0.0, 1.0]]).view(1, 1, 2, 2)
    # vertical differences 0, horizontal differences 1 and 1
    assert total_variation_loss(x).item() == pytest.approx(1.0)


def test_perceptual_loss_zero_for_same_image():
    ext = lambda x: {"id": x, "sq": x ** 2}  # noqa: E731
    x = torch.rand(1, 3, 4, 4)
    assert perceptual_loss(ext, x, x.clone()) == 0
    assert perceptual_loss(ext, x, x + 0.5, layers=["id"]).item() == pytest.approx(0.25)


def test_errors_for_wrong_dims():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\).*\(3, 4, 4\)"):
        gram_matrix(torch.rand(3, 4, 4))
    with pytest.raises(ValueError):
        total_variation_loss(torch.rand(4, 4))
    with pytest.raises(ValueError, match="differ"):
        content_loss(torch.rand(1, 2, 3, 3), torch.rand(1, 2, 4, 4))
    with pytest.raises(ValueError, match="missing"):
        style_loss({"a": torch.rand(1, 2, 3, 3)}, {"b": torch.rand(1, 2, 2)})
