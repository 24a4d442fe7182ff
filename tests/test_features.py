import pytest
import torch
import torchvision

from course_lib.models.features import VGG19_LAYER_INDEX, VGGFeatures


@pytest.fixture(scope="module")
def vgg():
    torch.manual_seed(0)
    return VGGFeatures(weights=None)


def test_layer_names_match_torchvision_relus():
    feats = torchvision.models.vgg19(weights=None).features
    for name, index in VGG19_LAYER_INDEX.items():
        assert isinstance(feats[index], torch.nn.ReLU), name
        assert isinstance(feats[index - 1], torch.nn.Conv2d), name


def test_frozen_and_eval(vgg):
    assert not vgg.pretrained
    assert all(not p.requires_grad for p in vgg.parameters())
    vgg.train()
    assert not vgg.training and all(not m.training for m in vgg.modules())


def test_output_shapes_64(vgg):
    out = vgg(torch.rand(2, 3, 64, 64))
    assert list(out) == ["relu1_1", "relu2_1", "relu3_1", "relu4_1"]
    assert out["relu1_1"].shape == (2, 64, 64, 64)
    assert out["relu2_1"].shape == (2, 128, 32, 32)
    assert out["relu3_1"].shape == (2, 256, 16, 16)
    assert out["relu4_1"].shape == (2, 512, 8, 8)
    assert len(vgg.features) == VGG19_LAYER_INDEX["relu4_1"] + 1


def test_parameters_unchanged_after_step_through_it(vgg):
    before = {k: v.clone() for k, v in vgg.state_dict().items()}
    net = torch.nn.Conv2d(3, 3, 3, padding=1)
    image = torch.rand(1, 3, 32, 32, requires_grad=True)
    opt = torch.optim.Adam([image, *net.parameters()], lr=0.1)
    loss = sum(f.pow(2).mean() for f in vgg(net(image)).values())
    loss.backward()
    opt.step()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert net.weight.grad is not None
    for k, v in vgg.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_relu1_1_parity_with_torchvision(vgg):
    ref = torchvision.models.vgg19(weights=None).features[:2]
    ref.load_state_dict({k: v for k, v in vgg.features[:2].state_dict().items()})
    x = torch.rand(1, 3, 20, 24)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    ours = vgg(x)["relu1_1"]
    torch.testing.assert_close(ours, ref((x - mean) / std))


def test_avg_pool_and_errors():
    m = VGGFeatures(("relu2_1",), weights=None, pool="avg")
    assert any(isinstance(x, torch.nn.AvgPool2d) for x in m.features)
    assert not any(isinstance(x, torch.nn.MaxPool2d) for x in m.features)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\).*\(1, 1, 8, 8\)"):
        m(torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match="unknown"):
        VGGFeatures(("conv1_1",), weights=None)
    with pytest.raises(ValueError, match="pool"):
        VGGFeatures(weights=None, pool="min")
