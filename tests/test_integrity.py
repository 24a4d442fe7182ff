"""course_lib.integrity: one path for hashing, checking and loading every shipped file.

Tampering is always done on temporary copies; the shipped files are only read.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib.integrity import (ChecksumError, arrays_sha256, file_digest, file_sha256, load_verified,
                                  save_or_check_weights, verify_file, weights_sha256)

ROOT = Path(__file__).resolve().parent.parent
FILES = ROOT / "course_lib" / "data" / "files"


def _shipped():
    """(file, recorded sha256, rebuilding script) of every shipped file, read from the modules that load them."""
    from course_lib.data import mnist
    from course_lib.diffusion import checkpoint
    from course_lib.models import digit_backbone, judge

    return [(mnist.BUNDLED_MNIST, mnist.BUNDLED_MNIST_SHA256, "build_data.py"),
            (judge.JUDGE_FILE, judge.JUDGE_FILE_SHA256, "train_judge.py"),
            (checkpoint.UNET_FILE, checkpoint.UNET_FILE_SHA256, "train_diffusion.py"),
            (digit_backbone.BACKBONE_FILE, digit_backbone.BACKBONE_FILE_SHA256, "pretrain_backbone.py")]


# ---------------------------------------------------------------------------------------
# hashes
# ---------------------------------------------------------------------------------------
def test_file_hashes_agree_with_hashlib(tmp_path):
    path = tmp_path / "blob"
    data = bytes(range(256)) * 9000  # more than one 1 MB chunk
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert file_digest(path, "md5") == hashlib.md5(data).hexdigest()


def test_content_hashes_see_every_value_and_ignore_key_order():
    state = {"b": torch.zeros(3), "a": torch.arange(4.0)}
    before = weights_sha256(state)
    assert weights_sha256(dict(reversed(state.items()))) == before
    state["a"][2] += 1e-6
    assert weights_sha256(state) != before
    arrays = {"x": np.zeros((2, 2), np.uint8), "y": np.ones(3, np.uint8)}
    before = arrays_sha256(arrays)
    arrays["x"][1, 1] = 1
    assert arrays_sha256(arrays) != before


# ---------------------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, sha256, script", _shipped(), ids=lambda v: getattr(v, "name", None))
def test_every_shipped_file_matches_the_hash_its_loader_records_and_the_registry_lists(path, sha256, script):
    assert verify_file(path, sha256, "") == path
    assert sha256 in (FILES / "README.md").read_text(), "course_lib/data/files/README.md must list the hash"
    assert sha256 in (ROOT / "data" / "README.md").read_text(), "data/README.md must list the hash"


@pytest.mark.parametrize("path, sha256, script", _shipped(), ids=lambda v: getattr(v, "name", None))
def test_a_tampered_copy_names_the_file_both_hashes_and_the_script(tmp_path, path, sha256, script):
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    with open(copy, "ab") as f:
        f.write(b"\0")
    with pytest.raises(ChecksumError) as err:
        verify_file(copy, sha256, f"rebuild it with `python scripts/{script}`")
    assert isinstance(err.value, ValueError)
    assert str(err.value) == (f"{copy} does not have the recorded sha256: expected {sha256}, "
                              f"received {file_sha256(copy)}; rebuild it with `python scripts/{script}`")


def test_a_missing_file_names_itself_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"absent.pt is missing; rebuild it with `python scripts/x.py`"):
        verify_file(tmp_path / "absent.pt", "0" * 64, "rebuild it with `python scripts/x.py`")


def test_a_prefix_is_accepted_but_not_a_short_one(tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"w": torch.ones(2)}, path)
    digest = file_sha256(path)
    assert torch.equal(load_verified(path, digest[:8], "")["w"], torch.ones(2))
    with pytest.raises(ValueError, match="at least 8"):
        verify_file(path, digest[:7], "")


def test_load_verified_refuses_files_that_are_not_plain_weights(tmp_path):
    path = tmp_path / "pickle.pt"
    torch.save({"thing": Path("x")}, path)
    with pytest.raises(Exception, match="[Ww]eights only load failed|weights_only"):
        load_verified(path, file_sha256(path), "")


def test_a_tampered_bundled_mnist_is_refused_when_loaded(tmp_path, monkeypatch):
    from course_lib.data import load_mnist, mnist

    copy = tmp_path / "mnist_5k.npz"
    shutil.copy(mnist.BUNDLED_MNIST, copy)
    with open(copy, "r+b") as f:  # flip one byte inside the zip
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(mnist, "BUNDLED_MNIST", copy)
    with pytest.raises(ChecksumError, match=f"expected {mnist.BUNDLED_MNIST_SHA256}, received .*scripts/build_data.py"):
        load_mnist(train=True, budget="standard")


# ---------------------------------------------------------------------------------------
# the scripts' shared ending: write, or --check
# ---------------------------------------------------------------------------------------
def test_save_or_check_weights_writes_atomically_then_checks(tmp_path, capsys):
    state = {"w": torch.arange(3.0)}
    out = tmp_path / "sub" / "w.pt"
    assert save_or_check_weights(state, out, recorded_weights_sha256="", check=False)
    assert torch.equal(load_verified(out, file_sha256(out), "")["w"], state["w"])
    assert not out.with_name("w.pt.tmp").exists()
    assert f"file sha256:    {file_sha256(out)}" in capsys.readouterr().out
    written = out.stat().st_mtime_ns
    assert save_or_check_weights(state, out, weights_sha256(state), check=True)
    assert "identical to the shipped weights" in capsys.readouterr().out
    assert not save_or_check_weights({"w": torch.zeros(3)}, out, weights_sha256(state), check=True)
    assert "DIFFERENT" in capsys.readouterr().out and out.stat().st_mtime_ns == written


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_diffusion_check_compares_the_retrained_weights_and_writes_nothing(monkeypatch, capsys):
    """The --check code path, with the 18-minute training replaced by the shipped weights (or zeros)."""
    from course_lib.diffusion.checkpoint import UNET_FILE, load_mnist_unet

    script = _script("train_diffusion")
    shipped = load_mnist_unet()
    written = UNET_FILE.stat().st_mtime_ns
    seen = {}

    def fake_train(images, labels, recipe, seed, progress):
        seen.update(n=len(images), steps=recipe.steps)
        return shipped, [0.1] * 200

    monkeypatch.setattr(script, "train_mnist_unet", fake_train)
    monkeypatch.setenv("COURSE_BUDGET", "full")  # must not change the training data
    monkeypatch.setattr(sys, "argv", ["train_diffusion.py", "--check"])
    script.main()  # identical: returns without sampling or writing
    assert "identical to the shipped weights" in capsys.readouterr().out
    assert seen == {"n": 4000, "steps": 2600}  # the bundled digits and the shipped recipe, whatever the budget
    with torch.no_grad():
        for p in shipped.parameters():
            p.zero_()
    with pytest.raises(SystemExit) as exit_:
        script.main()
    assert exit_.value.code == 1 and "DIFFERENT" in capsys.readouterr().out
    assert UNET_FILE.stat().st_mtime_ns == written


def test_train_diffusion_check_refuses_a_changed_recipe(monkeypatch):
    script = _script("train_diffusion")
    monkeypatch.setattr(sys, "argv", ["train_diffusion.py", "--check", "--steps", "3"])
    with pytest.raises(SystemExit) as exit_:
        script.main()
    assert exit_.value.code == 2
