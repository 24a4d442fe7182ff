"""One integrity path for every file the course ships or downloads: hashes, checks, safe loading.

Every shipped file (the MNIST subset, the judge, the diffusion U-Net, the digit backbone) and
every download (the torchvision data sets and weights) goes through :func:`verify_file`
before it is used; weights files are then read by :func:`load_verified` with
``torch.load(..., map_location="cpu", weights_only=True)``, which refuses pickles that would
run code. Two kinds of hash:

* the **file hash** (:func:`file_sha256`, or md5 for torchvision's data sets, which publishes
  md5 only): integrity of the bytes on disk. ``torch.save`` and ``np.savez`` files carry a
  random id or a time stamp, so it changes with every write;
* the **content hash** (:func:`weights_sha256` for a ``state_dict``, :func:`arrays_sha256` for
  NumPy arrays): a hash of the values themselves, which a re-run of a seeded build script
  reproduces; the scripts' ``--check`` compares it (:func:`save_or_check_weights`).

A mismatch raises :class:`ChecksumError` (a ``ValueError``) and a missing file
``FileNotFoundError``; both messages name the file and say how to get it back.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

__all__ = ["ChecksumError", "arrays_sha256", "file_digest", "file_sha256", "load_verified",
           "save_or_check_weights", "verify_file", "weights_sha256"]


class ChecksumError(ValueError):
    """A file whose hash differs from the recorded one (the message names both hashes)."""


# =============================================================================================
# Hashes
# =============================================================================================
def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in 1 MB chunks (``algorithm``: any name ``hashlib`` knows)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (64 characters)."""
    return file_digest(path, "sha256")


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """Hex sha256 of a state dict's contents: names, dtypes, shapes and values, in sorted key order.

    Independent of ``torch.save``'s random serialisation id, so a deterministic re-training
    reproduces it (``scripts/*.py --check``).
    """
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def arrays_sha256(arrays: dict[str, np.ndarray]) -> str:
    """Hex sha256 of named NumPy arrays: names, shapes, dtypes and bytes (independent of zip time stamps)."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}{array.shape}{array.dtype}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


# =============================================================================================
# Checks and loading
# =============================================================================================
def verify_file(path: str | Path, expected: str, how_to_fix: str, algorithm: str = "sha256") -> Path:
    """Check that ``path`` exists and that its hash is ``expected``; return the path.

    Args:
        path: the file.
        expected: its recorded hex digest, or a prefix of at least 8 characters (torchvision
            publishes the first 8 to 10 characters of a weights file's sha256 in its name).
        how_to_fix: the end of the error message, e.g. "rebuild it with `python scripts/x.py`".
        algorithm: ``"sha256"`` (the course's files) or ``"md5"`` (torchvision's data sets).

    Raises:
        FileNotFoundError: the file is missing.
        ChecksumError: its hash differs; the message names the file, both hashes and ``how_to_fix``.
    """
    path = Path(path)
    if len(expected) < 8:
        raise ValueError(f"expected a hex digest of at least 8 characters, got {expected!r}")
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; {how_to_fix}")
    received = file_digest(path, algorithm)
    if not received.startswith(expected.lower()):
        raise ChecksumError(f"{path} does not have the recorded {algorithm}: expected {expected}, "
                            f"received {received}; {how_to_fix}")
    return path


def load_verified(path: str | Path, sha256: str, how_to_fix: str) -> dict[str, torch.Tensor]:
    """:func:`verify_file`, then ``torch.load(path, map_location="cpu", weights_only=True)``.

    Returns the ``state_dict`` (tensors and plain containers only; anything else is refused by
    ``weights_only=True``). Raises as :func:`verify_file` does.
    """
    verify_file(path, sha256, how_to_fix)
    return torch.load(path, map_location="cpu", weights_only=True)


def save_or_check_weights(state: dict[str, torch.Tensor], out: Path, recorded_weights_sha256: str,
                          check: bool) -> bool:
    """The end of every training script: print the weights' hash, then compare or write.

    With ``check``: compare :func:`weights_sha256` of ``state`` with ``recorded_weights_sha256``,
    print the verdict and write nothing. Otherwise: write ``state`` to ``out`` atomically
    (a temporary file, then a rename) and print the file's sha256, to be recorded in the code.

    Returns:
        ``True`` when the weights are identical to the recorded ones (with ``check``) or when
        the file was written.
    """
    digest = weights_sha256(state)
    print(f"weights sha256: {digest}")
    if check:
        same = digest == recorded_weights_sha256
        print("identical to the shipped weights" if same
              else f"DIFFERENT from the shipped weights ({recorded_weights_sha256})")
        return same
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, out)  # never a half-written file under the real name
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KB)")
    print(f"file sha256:    {file_sha256(out)}")
    return True
