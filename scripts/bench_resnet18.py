"""Forward + backward time of course_lib's resnet18 against torchvision's, on the same input.

Both networks get the same weights (torchvision's state_dict loaded into ours) and the same
batch; each timed iteration is zero_grad, forward, cross-entropy loss, backward. The two
models alternate iteration by iteration so that a slow moment of a shared machine hits both.
Prints the median time of each and the ratio ours / torchvision (1.0 = the same speed); on a
shared machine the ratios of the minima and of the CPU times are the steadier numbers.

    python scripts/bench_resnet18.py --batch 8 --size 224 --iters 10
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torchvision
from torch import nn

from course_lib.models import resnet18


def step_time(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Wall-clock and process CPU seconds for one zero_grad + forward + loss + backward."""
    wall, cpu = time.perf_counter(), time.process_time()
    model.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224, help="input height and width")
    parser.add_argument("--warmup", type=int, default=3, help="untimed iterations per model")
    parser.add_argument("--iters", type=int, default=10, help="timed iterations per model")
    args = parser.parse_args()

    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None)
    ours = resnet18()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(args.batch, 3, args.size, args.size)  # (B, 3, H, W)
    y = torch.randint(0, 1000, (args.batch,))
    models = {"course_lib": ours, "torchvision": reference}

    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.get_num_threads()} threads, "
          f"input {tuple(x.shape)}, {args.warmup} warm-up + {args.iters} timed iterations each")
    for model in models.values():
        model.train()
        for _ in range(args.warmup):
            step_time(model, x, y)

    times: dict[str, list[float]] = {name: [] for name in models}  # wall-clock seconds
    cpu_times: dict[str, list[float]] = {name: [] for name in models}  # CPU seconds, all threads
    for _ in range(args.iters):
        for name, model in models.items():
            wall, cpu = step_time(model, x, y)
            times[name].append(wall)
            cpu_times[name].append(cpu)

    medians = {name: statistics.median(t) for name, t in times.items()}
    cpu_medians = {name: statistics.median(t) for name, t in cpu_times.items()}
    for name, t in times.items():
        print(f"{name:>12}: median {1000 * medians[name]:8.1f} ms  (min {1000 * min(t):.1f}, max {1000 * max(t):.1f}), "
              f"CPU time median {1000 * cpu_medians[name]:.1f} ms")
    print(f"ratio course_lib / torchvision: {medians['course_lib'] / medians['torchvision']:.3f} (median wall time)")
    print(f"  on a busy machine also look at: {min(times['course_lib']) / min(times['torchvision']):.3f} (minimum "
          f"wall time), {cpu_medians['course_lib'] / cpu_medians['torchvision']:.3f} (median CPU time)")


if __name__ == "__main__":
    main()
