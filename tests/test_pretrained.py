"""Tests of course_lib.pretrained: the weights API, the offline fallback, strict loading.

No test touches the network: torch.hub's cache directory points into tmp_path and its
download function is replaced, either by one that fails like an offline machine (URLError)
or by one that "downloads" a state_dict made locally.
"""

from __future__ import annotations
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torch.hub
import torchvision
from PIL import Image
from torchvision.models import ResNet18_Weights

from course_lib import models
from course_lib.pretrained import (course_model, get_weights, load_into, load_torchvision_weights,
                                   load_weights_file)


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """An empty torch.hub cache: nothing has been downloaded before."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub"


@pytest.fixture
def offline(empty_hub, monkeypatch):
    calls = []

    def fail(url, dst, *args, **kwargs):
        calls.append(url)
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", fail)
    return calls


def _reference_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A torchvision resnet18 state_dict with non-trivial BatchNorm statistics."""
    torch.manual_seed(seed)
    model = torchvision.models.resnet18(weights=None)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=g))
    return model.state_dict()


@pytest.fixture
def online(empty_hub, monkeypatch):
    """A download that writes a locally made state_dict where torch.hub expects the file."""
    state = _reference_state()
    calls = []

    def fake_download(url, dst, *args, **kwargs):
        calls.append(url)
        torch.save(state, dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    return state, calls


# ---------------------------------------------------------------------------------------
# the weights enum works offline
# ---------------------------------------------------------------------------------------

def test_weights_metadata_works_offline(offline):
    weights = get_weights("resnet18")
    assert weights is ResNet18_Weights.IMAGENET1K_V1 is ResNet18_Weights.DEFAULT
    categories = weights.meta["categories"]
    assert len(categories) == 1000 and categories[281] == "tabby"
    assert weights.transforms().crop_size == [224]
    assert offline == []  # nothing tried to download


@pytest.mark.parametrize("spec", ["DEFAULT", "IMAGENET1K_V1", "ResNet18_Weights.IMAGENET1K_V1",
                                  ResNet18_Weights.DEFAULT])
def test_get_weights_accepts_names_and_members(spec):
    assert get_weights("resnet18", spec) is ResNet18_Weights.IMAGENET1K_V1


def test_get_weights_rejects_unknown_names_with_the_choices():
    with pytest.raises(ValueError, match="IMAGENET1K_V1"):
        get_weights("resnet18", "IMAGENET22K")
    with pytest.raises(ValueError, match="not weights for resnet18"):
        get_weights("resnet18", torchvision.models.ResNet34_Weights.DEFAULT)
    with pytest.raises(ValueError, match="unknown torchvision model"):
        get_weights("resnet17")


@pytest.mark.parametrize("mode", ["RGBA", "L", "LA", "P"])
def test_weights_transforms_need_rgb_images(mode):
    """ERRATA 'Pretrained ResNet classification': convert('RGB') before the transforms."""
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).convert(mode)
    preprocess = ResNet18_Weights.DEFAULT.transforms()
    with pytest.raises(RuntimeError):  # Normalize has 3 means: 1, 2 or 4 channels break it
        preprocess(image)
    x = preprocess(image.convert("RGB"))
    assert x.shape == (3, 224, 224) and x.dtype == torch.float32


# ---------------------------------------------------------------------------------------
# the offline fallback
# ---------------------------------------------------------------------------------------

def test_offline_fallback_prints_one_line_and_returns_a_usable_model(offline, capsys):
    model, weights = load_torchvision_weights("resnet18", "DEFAULT")
    out, err = capsys.readouterr()
    assert out.splitlines() == ["[course_lib] could not download resnet18 weights (URLError); "
                                "using random weights: outputs (predictions, features) are not the trained network's"]
    assert err == ""  # no traceback, no warning
    assert offline == [ResNet18_Weights.DEFAULT.url]  # it did try, once
    assert weights is None
    assert isinstance(model, torchvision.models.ResNet) and not model.training
    with torch.no_grad():
        logits = model(torch.rand(2, 3, 64, 64))
    assert logits.shape == (2, 1000) and torch.isfinite(logits).all()


def test_offline_course_model_falls_back_the_same_way(offline, capsys):
    model, weights = course_model("resnet18")
    assert weights is None and isinstance(model, models.ResNet)
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_random_weights_on_purpose_do_not_download_or_print(offline, capsys):
    model, weights = load_torchvision_weights("resnet18", weights=None)
    assert weights is None and offline == [] and capsys.readouterr().out == ""
    assert sum(p.numel() for p in model.parameters()) == 11_689_512


# ---------------------------------------------------------------------------------------
# when the download works
# ---------------------------------------------------------------------------------------

def test_downloaded_weights_are_loaded_and_cached(online, empty_hub, capsys):
    state, calls = online
    model, weights = load_torchvision_weights("resnet18")
    assert weights is ResNet18_Weights.IMAGENET1K_V1
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, state[name]), name
    assert capsys.readouterr().out.splitlines()[-1].startswith("[course_lib] loaded resnet18 weights")
    load_torchvision_weights("resnet18", verbose=False)  # second call: from the cache
    assert len(calls) == 1 and any(empty_hub.rglob("resnet18-*.pth"))


def test_course_resnet18_with_torchvision_weights_gives_identical_logits(online):
    state, _ = online
    ours, weights = course_model("resnet18")
    reference, _ = load_torchvision_weights("resnet18", verbose=False)
    assert weights is ResNet18_Weights.IMAGENET1K_V1 and not ours.training
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))


def test_load_into_is_strict():
    ours = models.resnet18()
    load_into(ours, torchvision.models.resnet18(weights=None))  # same architecture: fine
    with pytest.raises(RuntimeError, match="Unexpected key|Missing key|size mismatch"):
        load_into(ours, torchvision.models.resnet34(weights=None))
    head_changed = torchvision.models.resnet18(weights=None, num_classes=10)
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_into(ours, head_changed)
    with pytest.raises(ValueError, match="state_dict"):
        load_into(ours, [1, 2, 3])


# ---------------------------------------------------------------------------------------
# checkpoint files
# ---------------------------------------------------------------------------------------

def test_load_weights_file_checks_the_hash(tmp_path):
    import hashlib

    path = tmp_path / "weights.pt"
    state = {"w": torch.arange(6.0).reshape(2, 3)}
    torch.save(state, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert torch.equal(load_weights_file(path, sha256=digest)["w"], state["w"])
    assert torch.equal(load_weights_file(path, sha256=digest[:8])["w"], state["w"])
    wrong = ("0" if digest[0] != "0" else "1") + digest[1:]
    with pytest.raises(ValueError, match=f"expected {wrong}, received {digest}"):
        load_weights_file(path, sha256=wrong)


class _NotATensor:
    pass


def test_load_weights_file_refuses_arbitrary_objects(tmp_path):
    path = tmp_path / "pickle.pt"
    torch.save({"thing": _NotATensor()}, path)
    with pytest.raises(Exception, match="[Ww]eights only load failed|weights_only"):
        load_weights_file(path)
