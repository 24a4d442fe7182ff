"""Run every notebook headless and write a results report: ``make course`` or
``python -m course_lib.run_course --budget standard``.

Each notebook runs top to bottom in a fresh kernel (nbclient) with ``COURSE_BUDGET`` set, from
the notebooks folder. The executed copy and an HTML rendering go to ``runs/course/``; the
notebook's own results file (``runs/results/<budget>/<name>.json``, written by its last cell) gives the
headline metrics, which are compared with the course's targets (DESIGN.md) and shown next to
published reference numbers for context. A notebook that fails does not stop the others. The
exit status is 0 only when every notebook ran and met its targets (targets are checked at the
``standard`` and ``full`` budgets; ``smoke`` runs are too short to mean anything).

Each notebook's outcome is also kept in ``runs/course/status/<budget>/<name>.json`` (with the
machine, thread count and versions it ran with), so that a partial rerun (``--only 12 13``)
updates its rows while the report keeps the other notebooks' latest results at the same budget,
each row with the time it was measured. ``scripts/sync_measured.py`` copies these files into the
committed ``measured/`` folder, the one source of every run time and result that the README and
the notebook headers quote.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .budget import BUDGETS
from .utils import project_root, runs_dir


@dataclass(frozen=True)
class Target:
    """``metric`` of a notebook's results file compared with ``value`` by ``op``."""

    metric: str
    op: str  # ">=", ">", "<=" or "<"
    value: float
    label: str

    def met(self, metrics: dict) -> bool | None:
        """True/False, or None when the notebook did not record the metric."""
        if self.metric not in metrics:
            return None
        x = metrics[self.metric]
        compare = {">=": x >= self.value, ">": x > self.value, "<=": x <= self.value, "<": x < self.value}
        if self.op not in compare:
            raise ValueError(f"Target.op must be one of {sorted(compare)}, got {self.op!r}")
        return bool(compare[self.op])


# The quality targets of DESIGN.md, as checks on the metrics each notebook saves.
TARGETS: dict[str, list[Target]] = {
    "02_cnn_building_blocks": [Target("test_accuracy", ">=", 0.98, "LeNet-5 test accuracy >= 98%")],
    "03_classic_architectures": [
        Target("degradation_loss_gap", ">", 0.0,
               "degradation: the deep plain network's final training loss above the shallow plain one's"),
        Target("plain_to_resnet_loss_ratio", ">", 1.0,
               "the deep residual network's final training loss below the deep plain one's"),
        Target("resnet18_max_abs_diff_vs_torchvision", "<=", 1e-5, "ResNet-18 logits equal torchvision's"),
    ],
    "04_transfer_learning": [Target("transfer_gain_points", ">=", 10.0,
                                    "course backbone, fewest labels: fine-tuning beats training from scratch by >= 10 points"),
                             Target("probe_gain", ">=", 0.10,
                                    "course backbone, fewest labels: pretrained linear probe >= random probe + 0.10"),
                             Target("gradcam_localisation", ">=", 0.80, "Grad-CAM on the correct half >= 80%")],
    "05_object_detection": [Target("map50", ">=", 0.85, "mAP@0.5 >= 0.85")],
    "06_segmentation": [Target("miou", ">=", 0.85, "mIoU >= 0.85")],
    "07_autoencoders_and_denoising": [
        Target("denoise_gain_over_best_blur_db_mnist", ">=", 2.0, "denoising beats the best blur by >= 2 dB (MNIST)")],
    "09_gans": [Target("cdcgan_judged_share", ">=", 0.70, "conditional DCGAN: >= 70% judged with confidence >= 0.9"),
                Target("cdcgan_classes_present", ">=", 10, "conditional DCGAN: all ten classes present")],
    "11_style_transfer": [Target("style_loss_reduction", ">=", 10.0, "Gatys 128x128: style loss down >= 10x")],
    "12_super_resolution": [Target("psnr_gain_over_bicubic_db", ">=", 0.5, "x2 PSNR >= bicubic + 0.5 dB")],
    "13_inpainting": [Target("hole_psnr_gain_over_biharmonic_db_photos", ">=", 0.2,
                             "held-out photo patches: hole PSNR above the biharmonic fill by >= 0.2 dB"),
                      Target("hole_psnr_gain_over_biharmonic_db_shapes", ">=", 0.2,
                             "held-out shapes images: hole PSNR above the biharmonic fill by >= 0.2 dB")],
    "14_vision_transformer": [Target("vit_test_accuracy", ">=", 0.95, "tiny ViT test accuracy >= 95%")],
    "15_diffusion_models": [Target("trained_judged_share", ">=", 0.50,
                                   "model trained in the notebook: >= 50% of DDIM samples judged with confidence >= 0.9"),
                            Target("trained_classes_present", ">=", 10,
                                   "model trained in the notebook: all ten classes present")],
}

# Published numbers for context (not comparable one-to-one: the course trains on 4,000 digits on a CPU).
REFERENCES: dict[str, str] = {
    "02_cnn_building_blocks": "LeNet-5: 0.95% test error on the full MNIST (LeCun et al. 1998)",
    "03_classic_architectures": "torchvision parameter counts: ResNet-18 11,689,512; ResNet-50 25,557,032; "
                                "CIFAR-10 plain-56 has higher training error than plain-20 (He et al. 2016, fig. 1)",
    "04_transfer_learning": "ResNet-18 ImageNet top-1 69.76% (torchvision IMAGENET1K_V1)",
    "05_object_detection": "CenterNet ResNet-18 COCO AP 28.1 (Zhou et al. 2019); different data",
    "06_segmentation": "U-Net: ISBI 2012 warping error 0.000353 (Ronneberger et al. 2015); different data",
    "07_autoencoders_and_denoising": "DnCNN-S, BSD68 sigma 25/255: 29.23 dB vs BM3D 28.57 dB (Zhang et al. 2017)",
    "08_variational_autoencoders": "VAE on binarised MNIST: about 86-90 nats test NLL in later work (e.g. Burda et al. 2016); "
                                   "ours is on grey-level digits, not comparable",
    "09_gans": "DCGAN (Radford et al. 2016) and conditional GAN (Mirza and Osindero 2014) report no MNIST FID; "
               "our Fréchet distance uses the course's judge",
    "10_cyclegan_and_stylegan": "CycleGAN trains 200 epochs at 256x256 (Zhu et al. 2017); StyleGAN FFHQ 1024x1024 FID 4.40 "
                                "(Karras et al. 2019)",
    "11_style_transfer": "Gatys et al. 2016 optimise with ImageNet-trained VGG-19; Johnson et al. 2016: a feed-forward net "
                         "about three orders of magnitude faster at test time",
    "12_super_resolution": "Set5 x4 PSNR: bicubic 28.42, SRCNN 30.48, SRResNet 32.05 dB (Ledig et al. 2017)",
    "13_inpainting": "Context Encoders, Paris StreetView centre hole: PSNR 18.58 dB (Pathak et al. 2016); different data",
    "14_vision_transformer": "ViT-B/16 ImageNet top-1 81.07% (torchvision IMAGENET1K_V1); 86,567,656 parameters",
    "15_diffusion_models": "DDPM CIFAR-10 FID 3.17 (Ho et al. 2020); DDIM 50 steps FID 4.67 (Song et al. 2021)",
}


# The time goals of the standard budget on a 2-core CPU (DESIGN.md): flagged, not failed, since
# wall time depends on the machine.
TIME_GOAL_SECONDS = {"standard": 360.0}
TOTAL_TIME_GOAL_MINUTES = {"standard": 45.0}


def over_time_goal(seconds: float, budget: str) -> bool:
    """True when one notebook took longer than its budget's goal (no goal: never)."""
    return seconds > TIME_GOAL_SECONDS.get(budget, float("inf"))


@dataclass
class NotebookResult:
    name: str
    ok: bool  # ran without error
    seconds: float
    metrics: dict
    targets: list[tuple[Target, bool | None]]
    error: str = ""
    measured: str = ""  # UTC time the run finished, "YYYY-MM-DD HH:MM"
    environment: dict | None = None  # machine, threads and versions of the kernel that ran it

    @property
    def passed(self) -> bool:
        return self.ok and all(m is True for _, m in self.targets)  # an unrecorded metric is not a pass


def _results_file(name: str, budget: str) -> Path:
    return runs_dir("results", budget) / f"{name}.json"


def _poll_in_slices(channel, slice_seconds: float = 0.5) -> None:
    """Make ``channel.get_msg(timeout=T)`` wait in short polls instead of one long one.

    Works around jupyter/nbclient#312: with an ``ipywidgets.interact`` cell (notebook 01) the
    shell reply can already be queued while a single ``get_msg(timeout=T)`` sleeps the whole
    ``T`` (measured here: the cell took exactly the per-cell timeout, 30 minutes with ours,
    then went on without error). Polling in slices sees the reply within ``slice_seconds``;
    the overall deadline, and the ``Empty`` raised when it passes, are unchanged.
    """
    from queue import Empty

    original = channel.get_msg

    async def get_msg(timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = slice_seconds if deadline is None else min(slice_seconds, max(0.0, deadline - time.monotonic()))
            try:
                return await original(timeout=wait)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    channel.get_msg = get_msg


def notebook_client(nb, timeout: int, workdir: Path, **kwargs):
    """An nbclient ``NotebookClient`` whose shell channel polls in slices (see ``_poll_in_slices``).

    Used by ``make course`` and ``make student-check``; ``kwargs`` go to ``NotebookClient``
    (e.g. ``allow_errors=True``).
    """
    from nbclient import NotebookClient

    class _Client(NotebookClient):
        async def async_start_new_kernel_client(self):
            kc = await super().async_start_new_kernel_client()
            _poll_in_slices(kc.shell_channel)
            return kc

    return _Client(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}, **kwargs)


def run_notebook(path: Path, budget: str, out_dir: Path, timeout: int) -> NotebookResult:
    """Execute one notebook in a fresh kernel; write the executed copy and its HTML."""
    import nbformat

    name = path.stem
    nb = nbformat.read(path, as_version=4)
    stale = _results_file(name, budget)
    if stale.exists():
        stale.unlink()  # a metric must come from this run, never from an earlier one
    started = time.perf_counter()
    error = ""
    old_budget = os.environ.get("COURSE_BUDGET")
    os.environ["COURSE_BUDGET"] = budget  # the kernel inherits the environment
    try:
        notebook_client(nb, timeout, path.parent).execute()
    except Exception as exc:  # noqa: BLE001 - a failing notebook is reported, the others go on
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
    finally:
        if old_budget is None:
            os.environ.pop("COURSE_BUDGET", None)
        else:
            os.environ["COURSE_BUDGET"] = old_budget
    seconds = time.perf_counter() - started
    nbformat.write(nb, out_dir / f"{name}.ipynb")
    try:
        from nbconvert import HTMLExporter

        html, _ = HTMLExporter().from_notebook_node(nb)
        (out_dir / f"{name}.html").write_text(html, encoding="utf-8")
    except Exception as exc:  # noqa: BLE001 - HTML is a convenience
        print(f"  (no HTML for {name}: {type(exc).__name__}: {exc})")
    metrics, kernel = {}, {}
    if _results_file(name, budget).exists():
        record = json.loads(_results_file(name, budget).read_text())
        metrics, kernel = record["metrics"], record.get("environment", {})
    elif not error:
        error = f"the notebook did not write {_results_file(name, budget).name} (its last cell calls run.save)"
    checks = [(t, t.met(metrics)) for t in TARGETS.get(name, [])] if budget != "smoke" else []
    return NotebookResult(name, not error, seconds, metrics, checks, error, f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M}",
                          machine_summary(kernel))


def machine_summary(kernel: dict | None = None) -> dict:
    """Where a run happened: CPU architecture and cores, GPU, and (from the notebook's kernel) threads and versions."""
    summary = {"machine": platform.machine(), "cpu_cores": os.cpu_count(), "python": platform.python_version()}
    for key in ("torch", "torchvision", "device", "threads"):
        if kernel and key in kernel:
            summary[key] = kernel[key]
    return summary


def _status_path(out_dir: Path, budget: str, name: str) -> Path:
    return out_dir / "status" / budget / f"{name}.json"


def save_status(result: NotebookResult, budget: str, out_dir: Path) -> None:
    """Keep one notebook's outcome so that later partial runs can still report it."""
    path = _status_path(out_dir, budget, result.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"name": result.name, "budget": budget, "ok": result.ok, "seconds": round(result.seconds, 1),
              "metrics": result.metrics, "error": result.error, "measured": result.measured,
              "environment": result.environment or machine_summary()}
    path.write_text(json.dumps(record, indent=2), encoding="utf-8")


def load_status(name: str, budget: str, out_dir: Path) -> NotebookResult | None:
    """The latest kept outcome of notebook ``name`` at ``budget``, targets checked against today's TARGETS."""
    path = _status_path(out_dir, budget, name)
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    if record.get("budget") != budget:
        return None
    metrics = record.get("metrics", {})
    checks = [(t, t.met(metrics)) for t in TARGETS.get(name, [])] if budget != "smoke" else []
    return NotebookResult(name, record["ok"], record["seconds"], metrics, checks, record.get("error", ""),
                          record.get("measured", ""), record.get("environment"))


def _headline(metrics: dict, targets: list[tuple[Target, bool | None]], limit: int = 4) -> str:
    """The target metrics first, then the notebook's first metrics, ``limit`` in all (at least the targets)."""
    keys = [t.metric for t, _ in targets if t.metric in metrics]
    keys += [k for k in metrics if k not in keys][:max(0, limit - len(keys))]
    return ", ".join(f"{k} {metrics[k]:.4g}" for k in keys) or "-"


def write_report(results: list[NotebookResult], budget: str, out_dir: Path, names: list[str] | None = None) -> Path:
    """``RESULTS.md``: one row per notebook, then the machine it ran on.

    ``results`` are this run's; the other notebooks in ``names`` are reported from their kept
    status (an earlier run at the same budget) when there is one.
    """
    import torch

    ran = {r.name for r in results}
    earlier = [r for n in (names or []) if n not in ran and (r := load_status(n, budget, out_dir)) is not None]
    missing = [NotebookResult(n, False, 0.0, {}, [], f"not run at the {budget} budget yet")
               for n in (names or []) if n not in ran and n not in {r.name for r in earlier}]
    rows = sorted(results + earlier + missing, key=lambda r: r.name)

    lines = [f"# Course results, `{budget}` budget",
             "",
             f"Report written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
             f"{os.cpu_count()} CPU cores ({torch.get_num_threads()} torch threads), {'CUDA ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}, "
             f"torch {torch.__version__}, Python {platform.python_version()}.",
             "",
             "| notebook | wall time | headline metrics | target | status | measured (UTC) | published reference |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        target = "; ".join(f"{t.label}: {'met' if m else ('not recorded' if m is None else 'missed')}"
                           for t, m in r.targets) or "-"
        status = "pass" if r.passed else ("target missed" if r.ok else
                                          r.error if r.error.startswith("not run") else "error: " + r.error)
        flag = f" (over {TIME_GOAL_SECONDS[budget]:.0f} s)" if over_time_goal(r.seconds, budget) else ""
        lines.append(f"| {r.name} | {r.seconds:.0f} s{flag} | {_headline(r.metrics, r.targets)} | {target} | {status} | "
                     f"{r.measured or '-'} | {REFERENCES.get(r.name, '-')} |")
    total = sum(r.seconds for r in rows)
    lines += ["", f"Total wall time: {total / 60:.1f} min; {sum(r.passed for r in rows)} of {len(rows)} passed."]
    if budget in TIME_GOAL_SECONDS:
        slow = [r.name for r in rows if over_time_goal(r.seconds, budget)]
        goal = TOTAL_TIME_GOAL_MINUTES[budget]
        lines.append(f"Time goals of the `{budget}` budget: each notebook under {TIME_GOAL_SECONDS[budget]:.0f} s "
                     f"({', '.join(slow) + ' over' if slow else 'all within'}); all together under {goal:.0f} min "
                     f"({'met' if total / 60 < goal else 'MISSED'}).")
    if earlier or missing:
        lines.append(f"This run executed {len(results)} notebook(s); the rows of {len(earlier)} others come from "
                     f"earlier runs at the same budget (see 'measured'); {len(missing)} have not run at it.")
    path = out_dir / "RESULTS.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", default="standard", choices=BUDGETS)
    parser.add_argument("--notebooks-dir", type=Path, default=None,
                        help="folder of the notebooks (default: the repository's notebooks/)")
    parser.add_argument("--only", nargs="*", default=None, help="run only notebooks whose name starts with these")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)

    nb_dir = args.notebooks_dir or (project_root() or Path.cwd()) / "notebooks"
    if not nb_dir.is_dir():
        print(f"no notebooks folder at {nb_dir}: run this from a clone of the course repository")
        return 2
    paths = sorted(p for p in nb_dir.glob("*.ipynb") if not args.only or p.stem.startswith(tuple(args.only)))
    if not paths:
        print(f"no notebooks matched in {nb_dir}")
        return 2
    out_dir = runs_dir("course")
    from tqdm.auto import tqdm

    results = []
    for path in (bar := tqdm(paths, desc=f"course ({args.budget})", unit="notebook")):
        bar.set_postfix_str(path.stem)
        try:
            result = run_notebook(path, args.budget, out_dir, args.timeout)
        except Exception:  # noqa: BLE001
            result = NotebookResult(path.stem, False, 0.0, {}, [], traceback.format_exc(limit=1).strip().splitlines()[-1])
        results.append(result)
        save_status(result, args.budget, out_dir)
        slow = f" (over the {TIME_GOAL_SECONDS[args.budget]:.0f} s goal)" if over_time_goal(result.seconds, args.budget) else ""
        tqdm.write(f"{'pass' if result.passed else 'FAIL'}  {result.name}  {result.seconds:.0f} s{slow}  "
                   f"{result.error or _headline(result.metrics, result.targets)}")
    all_names = sorted(p.stem for p in nb_dir.glob("*.ipynb"))
    report = write_report(results, args.budget, out_dir, all_names)
    print(f"this run: {len(results)} notebook(s), {sum(r.seconds for r in results) / 60:.1f} min summed; "
          f"report: {report}; executed notebooks and HTML in {out_dir}")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
