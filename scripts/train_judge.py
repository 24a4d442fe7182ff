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
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from course_lib.integrity import save_or_check_weights  # noqa: E402
from course_lib.models.judge import JUDGE_FILE, JUDGE_WEIGHTS_SHA256, train_judge  # noqa: E402


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
    print(f"trained in {time.perf_counter() - started:.0f} s: {n_params:,} parameters, "
          f"test accuracy {accuracy:.4f} on the 1,000 bundled test digits")
    ok = save_or_check_weights(state, args.out, JUDGE_WEIGHTS_SHA256, check=args.check)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
