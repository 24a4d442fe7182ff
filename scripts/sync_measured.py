"""One source for every run time and result the course quotes: ``measured/<budget>.json``.

    python -m course_lib.run_course --budget standard      # make course: runs/course/status/standard/
    make test                                              # the smoke times (conftest.py keeps the same records)
    python scripts/sync_measured.py --collect              # copy those status files into measured/
    python scripts/sync_measured.py                        # write the README and the notebook headers
    python scripts/sync_measured.py --check                # exit 1 if any of them disagrees (a test runs this)

``measured/`` is committed; ``runs/`` is not. ``--collect`` replaces the entries of the notebooks
that ran and keeps the others (each entry carries its own date, machine and thread count), so a
partial rerun (``run_course --only 09``) updates only its rows. Writing never invents a number:
a notebook that has no entry shows "not measured", a metric a notebook did not record shows "?"
and is listed on the terminal.

What is written:
* the first cell of every notebook: the paragraph that starts with ``**Run time**``;
* README.md, between ``<!-- measured:... -->`` markers: the paragraph above the course map, the
  smoke and standard columns of the course map, and the results section (text and table).
"""

from __future__ import annotations

import argparse
import json
import re
import string
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from course_lib.run_course import TARGETS, TIME_GOAL_SECONDS, TOTAL_TIME_GOAL_MINUTES  # noqa: E402

MEASURED = ROOT / "measured"
BUDGETS = ("smoke", "standard")

# The results table: (notebook, what is measured, value template, target template). Templates are
# str.format strings over the notebook's recorded metrics ("{test_accuracy:.1%}"). The target
# column gets "met" or "**missed**" appended from course_lib.run_course.TARGETS.
RESULT_ROWS: list[tuple[str, str, str, str]] = [
    ("00_setup_and_image_tensors", "torch -> NumPy -> PIL round-trip error", "{roundtrip_max_error:.3g}", "0"),
    ("01_classical_image_processing",
     "PSNR / SSIM vs scikit-image, max abs difference; Canny pixels equal to scikit-image's",
     "{psnr_torch_vs_skimage_max_abs_diff_db:.2g} dB / {ssim_torch_vs_skimage_max_abs_diff:.2g}; "
     "{canny_agreement_with_skimage:.1%}", "agreement"),
    ("01_classical_image_processing",
     "best classical filter, PSNR gain on Gaussian noise / salt and pepper; a learned linear filter's PSNR",
     "{psnr_gain_best_filter_db:+.1f} dB / {psnr_gain_best_filter_salt_pepper_db:+.1f} dB; "
     "{learned_linear_filter_psnr_db:.1f} dB", "-"),
    ("02_cnn_building_blocks", "LeNet-5 test accuracy, 1,000 held-out digits ({epochs:.0f} epochs on 3,600 digits, "
     "400 for validation); SimpleCNN", "{test_accuracy:.1%}; {simple_cnn_test_accuracy:.1%}", ">= 98%"),
    ("03_classic_architectures",
     "final training loss, plain {degradation_shallow_depth:.0f} / plain {degradation_depth:.0f} / residual "
     "{degradation_depth:.0f} layers (same steps and schedule); their test accuracy",
     "{plain_shallow_train_loss:.4f} / {plain_deep_train_loss:.4f} / {residual_deep_train_loss:.4f}; "
     "{plain_shallow_test_accuracy:.1%} / {plain_deep_test_accuracy:.1%} / {residual_deep_test_accuracy:.1%}",
     "deep plain > shallow plain; deep residual < deep plain"),
    ("03_classic_architectures", "ResNet-20 test accuracy / course ResNet-18 vs torchvision, max abs logit difference",
     "{resnet_test_accuracy:.1%} / {resnet18_max_abs_diff_vs_torchvision:.2g}", "- / 0"),
    ("04_transfer_learning",
     "digits 5-9, {transfer_labels_per_class:.0f} labels per class, backbone pretrained by the course on digits 0-4: "
     "scratch / probe on random / probe on pretrained / fine-tuned",
     "{scratch_accuracy:.1%} / {probe_random_accuracy:.1%} / {probe_pretrained_accuracy:.1%} / {finetune_accuracy:.1%}",
     "fine-tuning >= scratch + 10 points ({transfer_gain_points:+.1f}); pretrained probe >= random + 0.10 "
     "({probe_gain:+.2f})"),
    ("04_transfer_learning", "Grad-CAM on the correct half of two-texture collages; texture fine-tuning / frozen",
     "{gradcam_localisation:.1%}; {texture_finetune_accuracy:.1%} / {texture_frozen_accuracy:.1%}", ">= 80%"),
    ("05_object_detection", "detector mAP@0.5 / mAP@0.75 on held-out shapes images", "{map50:.3f} / {map75:.3f}",
     ">= 0.85"),
    ("06_segmentation", "U-Net mIoU / pixel accuracy / Dice on held-out shapes images",
     "{miou:.3f} / {pixel_accuracy:.3f} / {dice:.3f}", "mIoU >= 0.85"),
    ("07_autoencoders_and_denoising", "DnCNN PSNR gain over the best Gaussian blur, MNIST / held-out photo",
     "{denoise_gain_over_best_blur_db_mnist:+.1f} dB / {denoise_gain_over_best_blur_db_photo:+.1f} dB", ">= 2 dB"),
    ("08_variational_autoencoders", "VAE test -ELBO / importance-sampled -log p(x), nats per digit",
     "{test_neg_elbo_nats:.1f} / {test_neg_log_likelihood_iw_nats:.1f}", "-"),
    ("08_variational_autoencoders",
     "VAE prior samples judged with confidence >= 0.9 / classes / Fréchet distance (judge features)",
     "{judged_share:.1%} / {judged_classes:.0f} / {frechet_distance_judge:.1f}", "-"),
    ("09_gans", "class-conditional DCGAN samples judged with confidence >= 0.9 / classes; judged as the requested digit",
     "{cdcgan_judged_share:.1%} / {cdcgan_classes_present:.0f}; {cdcgan_label_agreement:.1%}", ">= 70% / 10"),
    ("09_gans", "unconditional DCGAN / MLP GAN samples judged with confidence >= 0.9",
     "{dcgan_judged_share:.1%} / {mlp_judged_share:.1%}", "-"),
    ("09_gans", "Fréchet distance on judge features: real vs real / conditional DCGAN / DCGAN / MLP GAN",
     "{fid_judge_real:.2f} / {fid_judge_cdcgan:.1f} / {fid_judge_generated:.1f} / {fid_judge_mlp:.1f}", "-"),
    ("10_cyclegan_and_stylegan",
     "CycleGAN thin <-> thick digits: A -> B error vs the true dilation / doing nothing; judge accuracy on B -> A",
     "{translation_error_ab:.3f} / {do_nothing_error_ab:.3f}; {judge_accuracy_translated_ba:.1%}", "-"),
    ("10_cyclegan_and_stylegan", "style-based generator samples judged with confidence >= 0.9 / classes; "
     "with truncation psi 0.6",
     "{style_judged_share:.1%} / {style_classes_present:.0f}; {style_judged_share_psi_0_6:.1%} / "
     "{style_classes_present_psi_0_6:.0f}", "-"),
    ("11_style_transfer", "Gatys at 128x128 (random VGG-19 offline): style loss reduction / final content loss vs "
     "the style image's content loss", "{style_loss_reduction:.0f}x / {content_loss_final:.2g} vs "
     "{content_loss_bound:.2g}", ">= 10x, bounded"),
    ("11_style_transfer", "Johnson TransformerNet style loss reduction / AdaIN per-channel std error vs the style",
     "{johnson_style_loss_reduction:.0f}x / {adain_std_error:.2g}", "-"),
    ("12_super_resolution", "x2 on a held-out photo, PSNR-Y (2-pixel border cropped): bicubic / SRCNN / SRResNet / "
     "small SRGAN", "{bicubic_psnr_y:.2f} / {srcnn_psnr_y:.2f} / {srresnet_psnr_y:.2f} / {srgan_psnr_y:.2f} dB",
     "SRResNet >= bicubic + 0.5 dB ({psnr_gain_over_bicubic_db:+.2f})"),
    ("12_super_resolution", "detail ratio (Laplacian energy vs the original): bicubic / SRResNet / SRGAN",
     "{bicubic_detail_ratio:.2f} / {srresnet_detail_ratio:.2f} / {srgan_detail_ratio:.2f}", "-"),
    ("13_inpainting", "hole PSNR on held-out photo patches: network / mean / blur / biharmonic scikit-image / "
     "biharmonic torch (the network's starting fill)",
     "{hole_psnr_network_db_photos:.2f} / {hole_psnr_mean_fill_db_photos:.2f} / {hole_psnr_blur_fill_db_photos:.2f} / "
     "{hole_psnr_biharmonic_skimage_db_photos:.2f} / {hole_psnr_biharmonic_torch_db_photos:.2f} dB",
     "network >= biharmonic (scikit-image) + 0.2 dB ({hole_psnr_gain_over_biharmonic_db_photos:+.2f}; training adds "
     "{hole_psnr_gain_over_torch_biharmonic_db_photos:+.2f})"),
    ("13_inpainting", "the same on held-out shapes images; adversarial stage, PSNR change photos / shapes",
     "{hole_psnr_network_db_shapes:.2f} / {hole_psnr_mean_fill_db_shapes:.2f} / {hole_psnr_blur_fill_db_shapes:.2f} / "
     "{hole_psnr_biharmonic_skimage_db_shapes:.2f} / {hole_psnr_biharmonic_torch_db_shapes:.2f} dB; "
     "{adversarial_psnr_change_db_photos:+.2f} / {adversarial_psnr_change_db_shapes:+.2f} dB",
     "+0.2 dB ({hole_psnr_gain_over_biharmonic_db_shapes:+.2f}; training adds "
     "{hole_psnr_gain_over_torch_biharmonic_db_shapes:+.2f})"),
    ("14_vision_transformer", "tiny ViT ({vit_parameters:,.0f} parameters) / CNN ({cnn_parameters:,.0f}) test "
     "accuracy; shifted by 3 pixels",
     "{vit_test_accuracy:.1%} / {cnn_test_accuracy:.1%}; {vit_accuracy_shift3:.1%} / {cnn_accuracy_shift3:.1%}",
     "ViT >= 95%"),
    ("15_diffusion_models", "U-Net trained in the notebook ({trained_steps:,.0f} steps): {eval_samples:,.0f} DDIM-"
     "{ddim_steps:.0f} samples (guidance {guidance_scale:g}) judged with confidence >= 0.9 / classes / Fréchet "
     "distance (real digits {real_frechet_distance:.2f})",
     "{trained_judged_share:.1%} / {trained_classes_present:.0f} / {trained_frechet_distance:.1f}", ">= 50% / 10"),
    ("15_diffusion_models", "shipped checkpoint, {shipped_samples:.0f} samples judged / classes; 64 images with "
     "DDIM-50 and guidance", "{shipped_judged_share:.1%} / {shipped_classes_present:.0f}; "
     "{ddim_seconds_64_images:.1f} s", "-"),
]


class _Metrics(dict):
    """Formatting mapping: a missing metric renders as "?" and is remembered."""

    def __init__(self, values: dict, missing: set):
        super().__init__(values)
        self.missing = missing

    def __missing__(self, key):
        self.missing.add(key)
        return _Unknown()


class _Unknown:
    def __format__(self, spec: str) -> str:
        return "?"


def render(template: str, metrics: dict, missing: set) -> str:
    return string.Formatter().vformat(template, (), _Metrics(metrics, missing))


def load(budget: str) -> dict:
    path = MEASURED / f"{budget}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def collect(status_dir: Path) -> list[str]:
    """Merge ``status_dir/<budget>/*.json`` into ``measured/<budget>.json``; return what changed."""
    changed = []
    MEASURED.mkdir(exist_ok=True)
    for budget in BUDGETS:
        records = load(budget)
        for path in sorted((status_dir / budget).glob("*.json")):
            record = json.loads(path.read_text(encoding="utf-8"))
            if record.get("budget") != budget:
                continue
            record["metrics"] = {k: float(f"{v:.6g}") if isinstance(v, float) else v  # 6 significant digits
                                 for k, v in record["metrics"].items()}
            records[record["name"]] = record
            changed.append(f"{budget}/{record['name']}")
        text = json.dumps(dict(sorted(records.items())), indent=1, ensure_ascii=False) + "\n"
        (MEASURED / f"{budget}.json").write_text(text, encoding="utf-8")
    return changed


def machine(record: dict) -> str:
    """'a 2-core x86_64 CPU, no GPU, torch 2.14.1 with 2 threads'."""
    env = record.get("environment")
    if not env:
        return "a machine this record does not name"
    device = env.get("device", "")
    gpu = device.split("(", 1)[-1].rstrip(")") if device.startswith("cuda") else "no GPU"
    threads = env.get("threads")
    return (f"a {env.get('cpu_cores', '?')}-core {env.get('machine', '?')} CPU, {gpu}, torch {env.get('torch', '?')}"
            f"{f' with {threads} thread' + ('s' if threads != 1 else '') if threads else ''}")


def seconds_text(record: dict | None) -> str:
    if record is None:
        return "not measured"
    if not record.get("ok"):
        return f"failed ({record.get('error', '')[:60]})"
    return f"{record['seconds']:.0f} s"


def header_paragraph(name: str, smoke: dict | None, standard: dict | None) -> str:
    parts = []
    for budget, record in (("smoke", smoke), ("standard", standard)):
        text = seconds_text(record)
        if record is not None and record.get("ok") and record["seconds"] > TIME_GOAL_SECONDS.get(budget, float("inf")):
            text += f" (over the {TIME_GOAL_SECONDS[budget] / 60:.0f}-minute goal)"
        parts.append(f"{budget} {text}")
    where = standard or smoke
    if where is None:
        return f"**Run time**: {', '.join(parts)}."
    dates = sorted({r["measured"][:10] for r in (smoke, standard) if r})
    return (f"**Run time**: {', '.join(parts)}; measured by `make test` (smoke) and `make course` (standard) "
            f"on {' and '.join(dates)} on "
            f"{machine(where)}, nothing else running. Your machine will differ; the `full` budget is meant "
            f"for a GPU and was not timed here.")


def update_headers(smoke: dict, standard: dict, only: list[str] | None = None) -> dict[Path, str]:
    """Notebook path -> new text (only those that change; only the notebooks starting with ``only``)."""
    out = {}
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if only and not path.stem.startswith(tuple(only)):
            continue
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        cell = nb["cells"][0]
        source = "".join(cell["source"])
        paragraphs = source.split("\n\n")
        hits = [i for i, p in enumerate(paragraphs) if p.startswith("**Run time**")]
        if len(hits) != 1:
            raise SystemExit(f"{path.name}: the first cell needs exactly one paragraph starting with '**Run time**', "
                             f"found {len(hits)}")
        paragraphs[hits[0]] = header_paragraph(path.stem, smoke.get(path.stem), standard.get(path.stem))
        new_source = "\n\n".join(paragraphs)
        if new_source != source:
            lines = new_source.split("\n")
            cell["source"] = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
            out[path] = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    return out


def _replace_between(text: str, key: str, body: str) -> str:
    start, end = f"<!-- measured:{key} -->", f"<!-- /measured:{key} -->"
    if text.count(start) != 1 or text.count(end) != 1:
        raise SystemExit(f"README.md needs one '{start}' and one '{end}'")
    before, rest = text.split(start)
    _, after = rest.split(end)
    return f"{before}{start}\n{body.strip()}\n{end}{after}"


def _targets_status(name: str, metrics: dict, target: str, value: str) -> str:
    """met / **missed** for the targets a row is about: those whose metric its target (else its value)
    template names, else all of the notebook's."""
    targets = TARGETS.get(name, [])
    about = ([t for t in targets if "{" + t.metric in target] or [t for t in targets if "{" + t.metric in value]
             or targets)
    checks = [t.met(metrics) for t in about]
    if not checks:
        return ""
    return ": met" if all(c is True for c in checks) else ": **missed**"


def update_readme(smoke: dict, standard: dict, missing: dict) -> str:
    path = ROOT / "README.md"
    text = path.read_text(encoding="utf-8")
    names = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    ran = [standard[n] for n in names if n in standard and standard[n].get("ok")]
    total = sum(r["seconds"] for r in ran)
    dates = sorted({r["measured"][:10] for r in ran})
    envs = sorted({machine(r) for r in ran})
    slow = [n[:2] for n in names if n in standard and standard[n]["seconds"] > TIME_GOAL_SECONDS["standard"]]
    goal = TOTAL_TIME_GOAL_MINUTES["standard"]
    intro = (f"Smoke: the CI budget, each notebook's wall time in `make test`. Standard: the learner's budget, "
             f"its wall time in `make course` (`python -m course_lib.run_course`; `--only` reruns some notebooks "
             f"and keeps the others' latest records). Measured on "
             f"{'; '.join(envs) or 'no machine yet'}, on {', '.join(dates) or '-'}, with nothing else running; "
             f"`measured/` keeps every run's record and `scripts/sync_measured.py` writes these columns from it. "
             f"{len(ran)} of {len(names)} notebooks measured at the standard budget, {total / 60:.1f} min together "
             f"(goal: under {goal:.0f} min, each under {TIME_GOAL_SECONDS['standard'] / 60:.0f} min"
             f"{'; over it: ' + ', '.join(slow) if slow else ''}).")
    text = _replace_between(text, "map-intro", intro)

    # course map rows: replace the smoke and standard cells (5th and 6th) of each notebook row
    def row(match: re.Match) -> str:
        cells = match.group(0).split(" | ")
        name = next((n for n in names if n.startswith(cells[0].strip("| ").strip())), None)
        if name is None or len(cells) < 6:  # "| NN", link, what you learn, smoke, standard, Colab |
            return match.group(0)
        cells[3], cells[4] = seconds_text(smoke.get(name)), seconds_text(standard.get(name))
        return " | ".join(cells)

    start, end = text.index("<!-- measured:map-intro -->"), text.index("## Results")
    table = re.sub(r"^\| \d\d \| .*$", row, text[start:end], flags=re.M)
    text = text[:start] + table + text[end:]

    lines = ["| notebook | metric | value | target |", "|---|---|---|---|"]
    for name, what, value, target in RESULT_ROWS:
        record = standard.get(name)
        metrics = record["metrics"] if record and record.get("ok") else None
        if metrics is None:
            lines.append(f"| {name[:2]} | {render(what, {}, set())} | not measured | {render(target, {}, set())} |")
            continue
        miss = missing.setdefault(name, set())
        status = _targets_status(name, metrics, target, value) if target != "-" else ""
        lines.append(f"| {name[:2]} | {render(what, metrics, miss)} | {render(value, metrics, miss)} | "
                     f"{render(target, metrics, miss)}{status} |")
    results_intro = (f"The numbers below come from the same runs at the `standard` budget "
                     f"(`measured/standard.json`; {', '.join(dates) or '-'}; {'; '.join(envs) or '-'}; offline, so "
                     f"no pretrained ImageNet weights load and the notebooks say so and use random weights). "
                     f"Results that come out of training move a little with the thread count and library versions "
                     f"(floating-point summation order); a rerun on the same machine and environment repeats them.")
    text = _replace_between(text, "results", results_intro + "\n\n" + "\n".join(lines))
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--collect", action="store_true", help="copy runs/course/status/<budget>/ into measured/ first")
    parser.add_argument("--status-dir", type=Path, default=ROOT / "runs" / "course" / "status")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    parser.add_argument("--notebooks", nargs="*", default=None,
                        help="rewrite only these notebooks' headers (names or number prefixes); default all")
    args = parser.parse_args(argv)
    if args.collect:
        changed = collect(args.status_dir)
        print(f"collected {len(changed)} record(s): {', '.join(changed) or 'none'}")
    smoke, standard = load("smoke"), load("standard")
    missing: dict[str, set] = {}
    files = update_headers(smoke, standard, args.notebooks)
    readme = update_readme(smoke, standard, missing)
    if readme != (ROOT / "README.md").read_text(encoding="utf-8"):
        files[ROOT / "README.md"] = readme
    for name, keys in sorted(missing.items()):
        if keys:
            print(f"{name}: metrics not recorded, shown as '?': {', '.join(sorted(keys))}")
    if args.check:
        for path in files:
            print(f"out of date: {path.relative_to(ROOT)} (run python scripts/sync_measured.py)")
        return 1 if files else 0
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
