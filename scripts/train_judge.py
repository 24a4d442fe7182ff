"""Train the MNIST judge of course_lib.models.judge and write course_lib/data/files/mnist_judge.pt.

Usage:
    python scripts/train_judge.py            # train, report test accuracy, write the file, print hashes
    python scripts/train_judge.py --check    # train again and compare with the shipped weights (writes nothing)

Reproducible: seeded, ``torch.use_deterministic_algorithms(True)``, one CPU thread, bundled data
only (4,000 training / 1,000 test digits), so a re-run on the same machine and library versions
gives bit-identical weights. ``torch.save`` files carry a random serialization id, so the file's
sha256 changes with every write; the weights' sha256 (a hash of the tensors) does not. After
writing a new file, record both printed hashes in ``course_lib/models/judge.py``
(``JUDGE_FILE_SHA256``, ``JUDGE_WEIGHTS_SHA256``).

Took 7 to 12 minutes on 2 CPU cores shared with other jobs (torch 2.14); test accuracy 0.991.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from course_lib.models.judge import (JUDGE_FILE, JUDGE_WEIGHTS_SHA256, file_sha256, train_judge,  # noqa: E402
                                     weights_sha256)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true", help="retrain and compare with the shipped weights")
    parser.add_argument("--out", type=Path, default=JUDGE_FILE)
    args = parser.parse_args()

    torch.set_num_threads(1)  # results of parallel reductions can depend on the thread count
    torch.use_deterministic_algorithms(True)
    started = time.perf_counter()
    model, accuracy = train_judge(epochs=args.epochs, seed=args.seed, device="cpu", progress=False)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    n_params = sum(p.numel() for p in model.parameters())
    digest = weights_sha256(state)
    print(f"trained in {time.perf_counter() - started:.0f} s: {n_params:,} parameters, "
          f"test accuracy {accuracy:.4f} on the 1,000 bundled test digits")
    print(f"weights sha256: {digest}")

    if args.check:
        same = digest == JUDGE_WEIGHTS_SHA256
        print("identical to the shipped weights" if same else f"DIFFERENT from the shipped weights ({JUDGE_WEIGHTS_SHA256})")
        raise SystemExit(0 if same else 1)

    tmp = args.out.with_name(args.out.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, args.out)
    size_kb = args.out.stat().st_size / 1024
    print(f"wrote {args.out} ({size_kb:.0f} KB)")
    print(f"file sha256:    {file_sha256(args.out)}")


if __name__ == "__main__":
    main()
