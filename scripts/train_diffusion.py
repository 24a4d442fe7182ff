"""Train the class-conditional MNIST diffusion U-Net of notebook 15 and write its EMA weights.

Usage:
    python scripts/train_diffusion.py                 # train, write course_lib/data/files/mnist_diffusion_unet.pt
    python scripts/train_diffusion.py --steps 500 --out /tmp/unet.pt   # a quick trial elsewhere

The recipe is ``course_lib.diffusion.checkpoint.train_mnist_unet`` (the same model, schedule and
loss the notebook trains), seeded, deterministic and single-threaded, on the 4,000 bundled
training digits. At the end it samples 200 digits with DDIM (50 steps, guidance scale 2) and
prints the judge's verdict. Record the printed file sha256 in
``course_lib/diffusion/checkpoint.py`` (``UNET_FILE_SHA256``); ``torch.save`` files carry a random
serialization id, so the hash changes with every write.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from course_lib.data import load_mnist  # noqa: E402
from course_lib.diffusion import NoiseSchedule, sample  # noqa: E402
from course_lib.diffusion.checkpoint import UNET_FILE, file_sha256, train_mnist_unet  # noqa: E402
from course_lib.metrics import evaluate_with_judge  # noqa: E402
from course_lib.models.judge import load_judge  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2600, help="optimiser steps (62 per epoch at batch 64)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=UNET_FILE)
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    started = time.perf_counter()
    images, labels = load_mnist(train=True).tensors()
    model, losses = train_mnist_unet(images, labels, steps=args.steps, seed=args.seed, progress=False)
    print(f"trained {args.steps} steps in {time.perf_counter() - started:.0f} s; "
          f"mean loss of the last 200 steps {sum(losses[-200:]) / len(losses[-200:]):.4f}")
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB), file sha256: {file_sha256(args.out)}")

    y = torch.arange(200) % 10
    x = sample(model, NoiseSchedule(1000), (200, 1, 28, 28), sampler="ddim", num_sampling_steps=50, labels=y,
               guidance_scale=2.0, generator=torch.Generator().manual_seed(0), progress=False)
    print("DDIM-50, guidance 2:", evaluate_with_judge(((x + 1) / 2).clamp(0, 1), load_judge()))


if __name__ == "__main__":
    main()
