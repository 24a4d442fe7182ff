import pytest
import torch

from course_lib.losses import content_loss, gram_matrix, style_loss
from course_lib.models.features import VGGFeatures
from course_lib.models.style_transfer import StyleResidualBlock, TransformerNet, adain


def test_transformer_shape_and_dependence():
    torch.manual_seed(0)
    net = TransformerNet(base=8, n_res=2)
    x = torch.rand(2, 3, 32, 48)
    y = net(x)
    assert y.shape == x.shape
    assert not torch.allclose(y[0], y[1])
    assert sum(isinstance(m, StyleResidualBlock) for m in net.modules()) == 2
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in net.modules())
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.rand(1, 3, 30, 32))


def test_training_step_leaves_vgg_unchanged():
    torch.manual_seed(0)
    vgg = VGGFeatures(("relu1_1", "relu2_1"), weights=None)
    before = {k: v.clone() for k, v in vgg.state_dict().items()}
    net = TransformerNet(base=8, n_res=1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    content = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        style_grams = {k: gram_matrix(v) for k, v in vgg(torch.rand(1, 3, 32, 32)).items()}
        target = vgg(content)["relu2_1"]
    w0 = net.encoder[0][1].weight.clone()
    feats = vgg(net(content))
    loss = content_loss(feats["relu2_1"], target) + 10 * style_loss(feats, style_grams)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert not torch.equal(w0, net.encoder[0][1].weight)
    for k, v in vgg.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in vgg.parameters())


def test_adain_matches_style_statistics():
    torch.manual_seed(0)
    c = torch.randn(2, 5, 8, 8) * 3 + 1
    s = torch.randn(2, 5, 6, 10) * 0.5 - 2
    out = adain(c, s)
    assert out.shape == c.shape
    torch.testing.assert_close(out.mean(dim=(2, 3)), s.mean(dim=(2, 3)), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.std(dim=(2, 3), unbiased=False), s.std(dim=(2, 3), unbiased=False),
                               atol=1e-3, rtol=1e-3)
    with pytest.raises(ValueError, match="channel"):
        adain(c, torch.randn(1, 4, 4, 4))
