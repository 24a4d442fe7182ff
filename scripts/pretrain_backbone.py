"""Pretrain the course's digit backbone (notebook 04) and write course_lib/data/files/digit_backbone.pt.

Usage:
    python scripts/pretrain_backbone.py            # train, report, write the file, print both hashes
    python scripts/pretrain_backbone.py --check    # train again and compare with the shipped weights (writes nothing)

Source task: the digits 0-4 of the bundled MNIST subset's training split (2,000 images); the
digits 5-9, the target task of notebook 04, are never shown to it. Reproducible: seeded,
``torch.use_deterministic_algorithms(True)``, one CPU thread, a fixed number of steps, so a
re-run with the same library versions gives bit-identical weights. ``torch.save`` writes a
random serialisation id, so the file's sha256 changes with every write while the weights'
sha256 does not: after writing a new file, record both printed hashes in
``course_lib/models/digit_backbone.py`` and ``course_lib/data/files/README.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from course_lib.data import load_mnist  # noqa: E402
from course_lib.integrity import save_or_check_weights  # noqa: E402
from course_lib.models.digit_backbone import (BACKBONE_FILE, BACKBONE_WEIGHTS_SHA256, PRETRAIN_STEPS,  # noqa: E402
                                              SOURCE_DIGITS, pretrain_digit_backbone, split_digits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=PRETRAIN_STEPS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true", help="retrain and compare with the shipped weights")
    parser.add_argument("--out", type=Path, default=BACKBONE_FILE)
    args = parser.parse_args()

    torch.set_num_threads(1)  # results of parallel reductions can depend on the thread count
    torch.use_deterministic_algorithms(True)
    train_images, train_labels = split_digits(*_bundled(train=True), SOURCE_DIGITS)
    test_images, test_labels = split_digits(*_bundled(train=False), SOURCE_DIGITS)
    started = time.perf_counter()
    model = pretrain_digit_backbone(train_images, train_labels, steps=args.steps, seed=args.seed)
    with torch.no_grad():
        accuracy = float((model(test_images).argmax(dim=1) == test_labels).float().mean())
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    print(f"pretrained in {time.perf_counter() - started:.0f} s ({args.steps} steps, {len(train_images)} images of "
          f"digits {SOURCE_DIGITS}); source test accuracy {accuracy:.4f} on {len(test_images)} held-out digits")
    ok = save_or_check_weights(state, args.out, BACKBONE_WEIGHTS_SHA256, check=args.check)
    raise SystemExit(0 if ok else 1)


def _bundled(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The bundled subset (the standard budget never downloads): ``(N, 1, 28, 28)`` in [0, 1] and ``(N,)`` labels."""
    return load_mnist(train=train, budget="standard").tensors()


if __name__ == "__main__":
    main()
