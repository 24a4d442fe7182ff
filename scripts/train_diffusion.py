"""Train the class-conditional MNIST diffusion U-Net of notebook 15 with one of its recipes and write its EMA weights.

Usage:
    python scripts/train_diffusion.py                          # the shipped recipe -> course_lib/data/files/mnist_diffusion_unet.pt
    python scripts/train_diffusion.py --recipe notebook --out /tmp/unet.pt   # the model notebook 15 trains
    python scripts/train_diffusion.py --steps 500 --out /tmp/unet.pt         # a quick trial elsewhere
    python scripts/train_diffusion.py --check     # train the shipped recipe again, compare the weights' hash (writes nothing)

The recipes are ``SHIPPED_RECIPE`` and ``NOTEBOOK_RECIPE`` of ``course_lib.diffusion.checkpoint``,
trained by ``train_mnist_unet`` (the same loop, schedule and loss as the notebook), seeded,
deterministic and single-threaded, on the 4,000 bundled training digits (the standard budget's
data, whatever ``COURSE_BUDGET`` says). At the end it samples 1,000 digits with DDIM and
guidance and prints the judge's verdict and the Fréchet distance to the 1,000 bundled test
digits (as notebooks 08, 09 and 15 measure it). Writing the shipped file changes its sha256
(``torch.save`` files carry a random serialization id): record both printed hashes in
``course_lib/diffusion/checkpoint.py`` (``UNET_FILE_SHA256``, ``UNET_WEIGHTS_SHA256``) and the
verdict in ``course_lib/data/files/README.md``. ``--check`` retrains (about 18 minutes on one
CPU thread) and compares the weights' hash with ``UNET_WEIGHTS_SHA256``; it writes and samples
nothing, and exits with 1 when the weights differ.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from course_lib.data import load_mnist  # noqa: E402
from course_lib.diffusion import NoiseSchedule, sample  # noqa: E402
from course_lib.diffusion.checkpoint import (NOTEBOOK_RECIPE, SHIPPED_RECIPE, UNET_FILE,  # noqa: E402
                                             UNET_WEIGHTS_SHA256, train_mnist_unet)
from course_lib.integrity import save_or_check_weights  # noqa: E402
from course_lib.metrics import evaluate_with_judge  # noqa: E402
from course_lib.models.judge import load_judge  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", choices=["shipped", "notebook"], default="shipped")
    parser.add_argument("--steps", type=int, default=None, help="override the recipe's optimiser steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--guidance", type=float, default=2.0, help="guidance scale s of the final evaluation")
    parser.add_argument("--ddim-steps", type=int, default=50)
    parser.add_argument("--out", type=Path, default=None, help=f"default: {UNET_FILE} for the shipped recipe")
    parser.add_argument("--check", action="store_true",
                        help="retrain the shipped recipe and compare with the shipped weights (writes nothing)")
    args = parser.parse_args()
    if args.check and (args.recipe != "shipped" or args.steps is not None or args.seed != 0):
        parser.error("--check retrains the shipped file's recipe exactly: no --recipe notebook, --steps or --seed")
    recipe = SHIPPED_RECIPE if args.recipe == "shipped" else NOTEBOOK_RECIPE
    if args.steps is not None:
        recipe = dataclasses.replace(recipe, steps=args.steps)
    out = args.out if args.out is not None else (UNET_FILE if args.recipe == "shipped" else None)
    if out is None:
        parser.error("--recipe notebook needs --out (the shipped file belongs to the shipped recipe)")

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    started = time.perf_counter()
    images, labels = load_mnist(train=True, budget="standard").tensors()  # the 4,000 bundled digits at any budget
    model, losses = train_mnist_unet(images, labels, recipe, seed=args.seed, progress=False)
    print(f"{args.recipe} recipe: {recipe.steps} steps in {time.perf_counter() - started:.0f} s; "
          f"mean loss of the last 200 steps {sum(losses[-200:]) / len(losses[-200:]):.4f}")
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if not save_or_check_weights(state, out, UNET_WEIGHTS_SHA256, check=args.check):
        raise SystemExit(1)
    if args.check:
        return

    y = torch.arange(1000) % 10
    x = sample(model, NoiseSchedule(recipe.num_diffusion_steps), (1000, 1, 28, 28), sampler="ddim",
               num_sampling_steps=args.ddim_steps, labels=y, guidance_scale=args.guidance,
               generator=torch.Generator().manual_seed(2024), progress=False)
    test_images, _ = load_mnist(train=False, budget="standard").tensors()
    report = evaluate_with_judge(((x + 1) / 2).clamp(0, 1), load_judge(), reference=test_images)
    print(f"DDIM-{args.ddim_steps}, guidance scale {args.guidance}:", report)


if __name__ == "__main__":
    main()
