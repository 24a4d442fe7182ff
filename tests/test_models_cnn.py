"""Tests of the CNN families in course_lib.models: SimpleCNN, LeNet5, AlexNet, VGG, ResNet, CIFAR ResNet.

* parity: torchvision's state_dict loads with strict=True and gives the same logits;
* pinned parameter counts (torchvision's and the papers' numbers);
* contracts for every model: output shape, finite values, a gradient for every parameter;
* behaviour: size-agnostic SimpleCNN, LeNet5 rejects wrong sizes, BatchNorm eps, Kaiming
  init, zero_init_residual, plain networks really have no shortcut, one-batch overfit.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest
import torch
import torchvision
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from course_lib import models
from course_lib.models import cifar_resnet, cifar_resnet18
from course_lib.utils import count_parameters


def _randomise_batchnorm(model: nn.Module, generator: torch.Generator) -> None:
    """Give every BatchNorm non-trivial statistics and affine parameters, so that parity
    tests also check eps, the order of operations and the running statistics."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                n = m.num_features
                m.running_mean.copy_(0.1 * torch.randn(n, generator=generator))
                m.running_var.copy_(0.5 + torch.rand(n, generator=generator))
                m.weight.copy_(0.5 + torch.rand(n, generator=generator))
                m.bias.copy_(0.1 * torch.randn(n, generator=generator))


# ---------------------------------------------------------------------------------------
# parity with torchvision
# ---------------------------------------------------------------------------------------

# (builder name, input size): AlexNet needs >= 63 px, VGG >= 32 px, ResNet works at 64 px.
PARITY = [("alexnet", 64), ("vgg11", 32), ("vgg16", 32), ("resnet18", 64), ("resnet34", 64), ("resnet50", 64)]


@pytest.mark.parametrize("name,size", PARITY, ids=[name for name, _ in PARITY])
def test_parity_with_torchvision(name, size):
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)(weights=None)
    _randomise_batchnorm(reference, g)
    ours = getattr(models, name)()

    # Same module tree: names, classes, hyperparameters, ReLU modules and their inplace flags.
    assert repr(ours) == repr(reference)
    ours.load_state_dict(reference.state_dict(), strict=True)

    x = torch.randn(2, 3, size, size, generator=g)
    ours.eval()
    reference.eval()
    with torch.no_grad():
        expected = reference(x)
        actual = ours(x)
    assert actual.shape == (2, 1000)
    assert expected.std() > 0  # logits that vary: equality below is not trivially true
    max_diff = (actual - expected).abs().max().item()
    assert max_diff <= 1e-6, f"{name}: max abs diff {max_diff:.3g}"


# ---------------------------------------------------------------------------------------
# parameter counts
# ---------------------------------------------------------------------------------------

PINNED_COUNTS = {
    "alexnet": (models.alexnet, 61_100_840),
    "vgg11": (models.vgg11, 132_863_336),
    "vgg11_bn": (models.vgg11_bn, 132_868_840),
    "vgg16": (models.vgg16, 138_357_544),
    "vgg16_bn": (models.vgg16_bn, 138_365_992),
    "resnet18": (models.resnet18, 11_689_512),
    "resnet34": (models.resnet34, 21_797_672),
    "resnet50": (models.resnet50, 25_557_032),
    "cifar_resnet18": (cifar_resnet18, 11_173_962),  # kuangliu/pytorch-cifar ResNet18
    "cifar_resnet20": (lambda: cifar_resnet(20), 269_722),  # He et al. 2016: 0.27M
    "cifar_resnet110": (lambda: cifar_resnet(110), 1_727_962),  # He et al. 2016: 1.7M
    "lenet5": (models.LeNet5, 61_706),
}


@pytest.mark.parametrize("name", list(PINNED_COUNTS))
def test_parameter_count(name):
    builder, expected = PINNED_COUNTS[name]
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        model = builder()
    assert count_parameters(model) == expected


def test_plain_network_has_the_same_parameters():
    # Option A shortcuts have no parameters, so plain and residual ResNet-20 match exactly.
    with torch.device("meta"):
        assert count_parameters(cifar_resnet(20, plain=True)) == count_parameters(cifar_resnet(20))
        # ResNet-18's projection shortcuts hold 2 x (conv1x1 + BN) x 3 stages worth of weights.
        projections = (64 * 128 + 2 * 128) + (128 * 256 + 2 * 256) + (256 * 512 + 2 * 512)
        assert count_parameters(cifar_resnet18(plain=True)) == 11_173_962 - projections


# ---------------------------------------------------------------------------------------
# contracts for every model
# ---------------------------------------------------------------------------------------

NUM_CLASSES = 7  # not a default anywhere, so the builders must pass num_classes through
# vgg16_bn is left out for time (its 138 M parameters cost seconds); vgg11_bn covers make_layers(batch_norm=True).
CONTRACT = {
    "simple_cnn": (lambda: models.SimpleCNN(num_classes=NUM_CLASSES), (2, 3, 32, 32)),
    "simple_cnn_gray": (lambda: models.SimpleCNN(in_channels=1, num_classes=NUM_CLASSES, width=8), (2, 1, 20, 20)),
    "lenet5": (lambda: models.LeNet5(num_classes=NUM_CLASSES), (2, 1, 28, 28)),
    "alexnet": (lambda: models.alexnet(num_classes=NUM_CLASSES), (2, 3, 64, 64)),
    "vgg11": (lambda: models.vgg11(num_classes=NUM_CLASSES), (2, 3, 32, 32)),
    "vgg11_bn": (lambda: models.vgg11_bn(num_classes=NUM_CLASSES), (2, 3, 32, 32)),
    "vgg16": (lambda: models.vgg16(num_classes=NUM_CLASSES), (2, 3, 32, 32)),
    "resnet18": (lambda: models.resnet18(num_classes=NUM_CLASSES), (2, 3, 64, 64)),
    "resnet34": (lambda: models.resnet34(num_classes=NUM_CLASSES), (2, 3, 64, 64)),
    "resnet50": (lambda: models.resnet50(num_classes=NUM_CLASSES), (2, 3, 64, 64)),
    "cifar_resnet18": (lambda: cifar_resnet18(num_classes=NUM_CLASSES), (2, 3, 32, 32)),
    "cifar_resnet18_gray": (lambda: cifar_resnet18(num_classes=NUM_CLASSES, in_channels=1), (2, 1, 32, 32)),
    "cifar_resnet20": (lambda: cifar_resnet(20, num_classes=NUM_CLASSES), (2, 3, 32, 32)),
    "cifar_resnet20_B": (lambda: cifar_resnet(20, num_classes=NUM_CLASSES, shortcut="B"), (2, 3, 32, 32)),
    "cifar_plain20": (lambda: cifar_resnet(20, num_classes=NUM_CLASSES, plain=True), (2, 3, 32, 32)),
}


@pytest.mark.parametrize("name", list(CONTRACT))
def test_contract(name):
    builder, shape = CONTRACT[name]
    torch.manual_seed(0)
    model = builder()
    assert all(m.training for m in model.modules()), "builders must return a model in train mode"

    x = torch.randn(*shape)
    logits = model(x)
    assert logits.shape == (shape[0], NUM_CLASSES)
    assert torch.isfinite(logits).all()

    target = torch.arange(shape[0]) % NUM_CLASSES
    nn.functional.cross_entropy(logits, target).backward()
    for param_name, p in model.named_parameters():
        assert p.grad is not None, f"{param_name} received no gradient"
        assert torch.isfinite(p.grad).all(), f"{param_name} has a non-finite gradient"
        assert p.grad.abs().sum() > 0, f"{param_name} received an all-zero gradient"


BN_MODELS = {
    "simple_cnn": models.SimpleCNN,
    "vgg11_bn": models.vgg11_bn,
    "vgg16_bn": models.vgg16_bn,
    "resnet18": models.resnet18,
    "resnet34": models.resnet34,
    "resnet50": models.resnet50,
    "cifar_resnet18": cifar_resnet18,
    "cifar_resnet20": cifar_resnet,
    "cifar_plain20": lambda: cifar_resnet(20, plain=True),
}


@pytest.mark.parametrize("name", list(BN_MODELS))
def test_batchnorm_eps_and_momentum(name):
    # ERRATA: BatchNorm2d(n, 0.8) sets eps=0.8 (the second positional argument), not momentum.
    with torch.device("meta"):
        model = BN_MODELS[name]()
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert norms, f"{name} should contain BatchNorm layers"
    for m in norms:
        assert m.eps == 1e-5 and m.momentum == 0.1, f"{name}: {m}"


# ---------------------------------------------------------------------------------------
# SimpleCNN and LeNet5
# ---------------------------------------------------------------------------------------


def test_simple_cnn_works_at_any_size():
    torch.manual_seed(0)
    model = models.SimpleCNN().eval()
    with torch.no_grad():
        assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
        assert model(torch.rand(1, 3, 224, 224)).shape == (1, 10)
        assert model(torch.rand(1, 3, 50, 70)).shape == (1, 10)


def test_lenet5_rejects_wrong_input_size():
    model = models.LeNet5()
    # A 32x32 batch must not be silently re-batched (view(-1, 400) would give 36 rows for 25 images).
    with pytest.raises(ValueError, match=re.escape("expected (B, 1, 28, 28), got (25, 1, 32, 32)")):
        model(torch.rand(25, 1, 32, 32))
    with pytest.raises(ValueError, match=re.escape("got (1, 28, 28)")):  # missing batch dimension
        model(torch.rand(1, 28, 28))
    with pytest.raises(ValueError, match=re.escape("got (4, 3, 28, 28)")):  # RGB into a greyscale net
        model(torch.rand(4, 3, 28, 28))
    assert model(torch.rand(25, 1, 28, 28)).shape == (25, 10)


# ---------------------------------------------------------------------------------------
# ResNet details
# ---------------------------------------------------------------------------------------


def test_resnet_kaiming_init():
    torch.manual_seed(0)
    model = models.resnet18()
    conv = model.layer4[1].conv2  # 512 -> 512, 3x3: 2.4 M weights, so the std estimate is tight
    fan_out = conv.out_channels * conv.kernel_size[0] * conv.kernel_size[1]
    expected_std = (2.0 / fan_out) ** 0.5  # Kaiming normal, mode fan_out, gain sqrt(2)
    assert abs(conv.weight.std().item() / expected_std - 1) < 0.02
    assert abs(conv.weight.mean().item()) < 0.05 * expected_std
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.equal(m.weight, torch.ones_like(m.weight))
            assert torch.equal(m.bias, torch.zeros_like(m.bias))


def test_relu_is_a_module_not_created_in_forward():
    model = models.resnet18().eval()
    calls = []
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.register_forward_hook(lambda *_: calls.append(1))
    with torch.no_grad():
        model(torch.rand(1, 3, 64, 64))
    # stem + 2 per BasicBlock x 8 blocks: every activation is visible to hooks
    assert len(calls) == 1 + 2 * 8


@pytest.mark.parametrize("builder,last_bn", [(models.resnet18, "bn2"), (models.resnet50, "bn3"),
                                             (cifar_resnet, "bn2"), (cifar_resnet18, "bn2")],
                         ids=["resnet18", "resnet50", "cifar_resnet20", "cifar_resnet18"])
def test_zero_init_residual(builder, last_bn):
    def last_bn_weights(model):
        blocks = [m for m in model.modules() if isinstance(m, (models.BasicBlock, models.Bottleneck))]
        assert blocks
        return [getattr(block, last_bn).weight for block in blocks]

    assert all(torch.count_nonzero(w) == 0 for w in last_bn_weights(builder(zero_init_residual=True)))
    assert all(torch.equal(w, torch.ones_like(w)) for w in last_bn_weights(builder()))


# ---------------------------------------------------------------------------------------
# CIFAR ResNets and plain networks
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("builder", [cifar_resnet18, cifar_resnet], ids=["resnet18", "resnet20"])
def test_cifar_resnet_accepts_32_and_64(builder):
    torch.manual_seed(0)
    model = builder().eval()
    assert isinstance(model.conv1, nn.Conv2d) and model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    with torch.no_grad():
        assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
        assert model(torch.rand(2, 3, 64, 64)).shape == (2, 10)


def test_cifar_resnet_depth():
    model = cifar_resnet(20)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(convs) + len(linears) == 20  # 6n + 2 weighted layers, option A adds none
    assert [c.out_channels for c in (model.layer1[0].conv1, model.layer2[0].conv1, model.layer3[0].conv1)] == [16, 32, 64]
    with pytest.raises(ValueError, match="6n"):
        cifar_resnet(21)


def test_basic_block_residual_flag():
    # With the residual branch switched off (bn2 outputs 0), a residual block is ReLU(x), a plain block is 0.
    torch.manual_seed(0)
    x = torch.randn(2, 16, 8, 8)
    for residual, expected in [(True, torch.relu(x)), (False, torch.zeros_like(x))]:
        block = models.BasicBlock(16, 16, residual=residual).eval()
        nn.init.zeros_(block.bn2.weight)
        nn.init.zeros_(block.bn2.bias)
        with torch.no_grad():
            assert torch.equal(block(x), expected)
    with pytest.raises(ValueError):
        models.BasicBlock(16, 32, stride=2, downsample=nn.Identity(), residual=False)


@pytest.mark.parametrize("builder", [cifar_resnet, cifar_resnet18], ids=["resnet20", "resnet18"])
def test_plain_network_has_no_shortcut(builder):
    torch.manual_seed(0)
    residual = builder()
    plain = builder(plain=True)
    blocks = [m for m in plain.modules() if isinstance(m, models.BasicBlock)]
    assert blocks and all(not b.residual and b.downsample is None for b in blocks)
    assert not any("downsample" in name for name, _ in plain.named_modules())
    assert any(b.downsample is not None for b in residual.modules() if isinstance(b, models.BasicBlock))
    with pytest.raises(ValueError):
        builder(plain=True, zero_init_residual=True)

    # Same weights, different wiring: the outputs must differ. Only projection weights are left over.
    result = plain.load_state_dict(residual.state_dict(), strict=False)
    assert result.missing_keys == []
    assert all(".downsample." in key for key in result.unexpected_keys)
    x = torch.rand(2, 3, 32, 32)
    residual.eval()
    plain.eval()
    with torch.no_grad():
        assert (residual(x) - plain(x)).abs().max() > 1e-3


def test_option_a_shortcut():
    shortcut = models.ZeroPadShortcut(16, 32, stride=2)
    x = torch.randn(2, 16, 8, 8)
    y = shortcut(x)
    assert y.shape == (2, 32, 4, 4)
    assert torch.equal(y[:, :16], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, 16:]) == 0


# ---------------------------------------------------------------------------------------
# training and package hygiene
# ---------------------------------------------------------------------------------------

OVERFIT = {
    "simple_cnn": (lambda: models.SimpleCNN(width=16), (16, 3, 32, 32), 3e-3),
    "lenet5": (models.LeNet5, (16, 1, 28, 28), 3e-3),
    "cifar_resnet8": (lambda: cifar_resnet(8), (16, 3, 32, 32), 3e-3),
}


@pytest.mark.parametrize("name", list(OVERFIT))
def test_overfits_one_batch(name):
    builder, shape, lr = OVERFIT[name]
    torch.manual_seed(0)
    model = builder()
    x = torch.rand(*shape)
    y = torch.arange(shape[0]) % 10
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        final = nn.functional.cross_entropy(model(x), y).item()
    assert final < 0.2 * losses[0], f"loss {losses[0]:.3f} -> {final:.3f}"


def test_no_duplicate_class_names_in_models_package():
    seen: dict[str, str] = {}
    for info in pkgutil.iter_modules(models.__path__):
        module = importlib.import_module(f"{models.__name__}.{info.name}")
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue  # imported, not defined here
            assert cls_name not in seen, f"{cls_name} defined in {seen.get(cls_name)} and {module.__name__}"
            seen[cls_name] = module.__name__
    assert {"BasicBlock", "ResNet", "CifarResNet", "LeNet5"} <= set(seen)
