"""Where does a notebook's time go? Per cell, and inside each cell: data, forward, backward, optimiser.

Usage:
    python scripts/profile_notebook.py 04                     # standard budget
    python scripts/profile_notebook.py 15 --budget smoke --top 8

The notebook runs top to bottom in a fresh kernel (as ``make course`` runs it). A hidden first
cell installs global timers in the kernel:

* **data**: time spent in ``next()`` of every ``DataLoader`` iterator;
* **forward**: time inside outermost ``nn.Module`` calls (global forward hooks; nested modules
  are not counted twice);
* **backward**: ``Tensor.backward`` and ``torch.autograd.backward``/``grad``;
* **optimiser**: ``Optimizer.step`` (global step hooks);

the rest of a cell's wall time is "other" (Python loops, plotting, metrics, sampling loops
outside modules...). On a CPU the timings are exact wall-clock sums; on a GPU they would need
synchronisation. Nothing is written outside ``runs/`` (the executed copy goes to
``runs/profile/``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Runs inside the kernel before the notebook's first cell. Kept self-contained and private (_prof*).
TIMERS = r'''
import time as _prof_time, torch as _prof_torch
from torch.utils.data import dataloader as _prof_dl
_prof = {"data": 0.0, "forward": 0.0, "backward": 0.0, "optimiser": 0.0, "steps": 0}
_prof_depth = [0, 0.0]
def _prof_pre(module, args):
    if _prof_depth[0] == 0:
        _prof_depth[1] = _prof_time.perf_counter()
    _prof_depth[0] += 1
def _prof_post(module, args, output):
    _prof_depth[0] -= 1
    if _prof_depth[0] == 0:
        _prof["forward"] += _prof_time.perf_counter() - _prof_depth[1]
_prof_torch.nn.modules.module.register_module_forward_pre_hook(_prof_pre)
# always_call: the post hook runs even when a forward raises (a "common mistake" cell), so the depth
# count never gets stuck above zero (which would stop all later forward timing)
_prof_torch.nn.modules.module.register_module_forward_hook(_prof_post, always_call=True)
_prof_nesting = {"data": [0], "backward": [0]}
def _prof_wrap(owner, name, key):
    original = getattr(owner, name)
    depth = _prof_nesting[key]  # Tensor.backward calls torch.autograd.backward: time the outermost call only
    def timed(*args, **kwargs):
        depth[0] += 1
        started = _prof_time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            depth[0] -= 1
            if depth[0] == 0:
                _prof[key] += _prof_time.perf_counter() - started
    setattr(owner, name, timed)
_prof_wrap(_prof_dl._BaseDataLoaderIter, "__next__", "data")
_prof_wrap(_prof_torch.Tensor, "backward", "backward")
_prof_wrap(_prof_torch.autograd, "backward", "backward")
_prof_wrap(_prof_torch.autograd, "grad", "backward")
_prof_step = [0.0]
def _prof_step_pre(optimizer, args, kwargs):
    _prof_step[0] = _prof_time.perf_counter()
def _prof_step_post(optimizer, args, kwargs):
    _prof["optimiser"] += _prof_time.perf_counter() - _prof_step[0]
    _prof["steps"] += 1
from torch.optim.optimizer import register_optimizer_step_pre_hook, register_optimizer_step_post_hook
register_optimizer_step_pre_hook(_prof_step_pre)
register_optimizer_step_post_hook(_prof_step_post)
'''
REPORT = "import json as _prof_json; print('_PROF_' + _prof_json.dumps(_prof))"


def profile(path: Path, budget: str, timeout: int = 1800) -> list[dict]:
    """Run the notebook; one record per code cell: seconds, data/forward/backward/optimiser seconds, steps."""
    import nbformat

    from course_lib.run_course import notebook_client
    from course_lib.utils import runs_dir

    nb = nbformat.read(path, as_version=4)
    cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    # after every code cell, a probe cell prints the cumulative timers
    probed = nbformat.v4.new_notebook(metadata=nb.metadata)
    probed.cells.append(nbformat.v4.new_code_cell(TIMERS))
    for _, cell in cells:
        probed.cells.append(cell)
        probed.cells.append(nbformat.v4.new_code_cell(REPORT))
    os.environ["COURSE_BUDGET"] = budget  # the kernel inherits the environment
    client = notebook_client(probed, timeout, path.parent, record_timing=True)
    started = time.perf_counter()
    client.execute()
    total = time.perf_counter() - started
    out = runs_dir("profile")
    nbformat.write(probed, out / path.name)

    records, before = [], {"data": 0.0, "forward": 0.0, "backward": 0.0, "optimiser": 0.0, "steps": 0}
    for k, (index, _) in enumerate(cells):
        cell, probe = probed.cells[1 + 2 * k], probed.cells[2 + 2 * k]
        timing = cell.metadata.get("execution", {})
        seconds = _seconds(timing)
        text = "".join(o.get("text", "") for o in probe.outputs if o.get("output_type") == "stream")
        now = json.loads(text.split("_PROF_", 1)[1].splitlines()[0])
        delta = {key: now[key] - before[key] for key in before}
        before = now
        first_line = next((line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")), "")
        records.append({"cell": index, "seconds": seconds, **delta, "source": first_line[:60]})
    records.append({"cell": "total", "seconds": total})
    return records


def _seconds(timing: dict) -> float:
    from datetime import datetime

    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not start or not end:
        return 0.0
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", help="the notebook's number (e.g. 04) or the start of its name")
    parser.add_argument("--budget", default="standard", choices=["smoke", "standard", "full"])
    parser.add_argument("--top", type=int, default=10, help="show the slowest cells only")
    args = parser.parse_args(argv)
    matches = sorted((ROOT / "notebooks").glob(f"{args.notebook}*.ipynb"))
    if len(matches) != 1:
        print(f"expected one notebook starting with {args.notebook!r}, found {[m.name for m in matches]}")
        return 2
    records = profile(matches[0], args.budget)
    total = records.pop()["seconds"]
    cells = sorted(records, key=lambda r: -r["seconds"])[: args.top]
    print(f"{matches[0].name} at the {args.budget} budget: {total:.1f} s in all "
          f"(kernel start and imports included), {sum(r['seconds'] for r in records):.1f} s in cells")
    print(f"{'cell':>4s} {'seconds':>8s} {'data':>7s} {'forward':>8s} {'backward':>9s} {'optimiser':>10s} "
          f"{'other':>7s} {'steps':>6s} {'ms/step':>8s}  first line  (ms/step: the cell's time per optimiser step)")
    for r in cells:
        timed = r["data"] + r["forward"] + r["backward"] + r["optimiser"]
        per_step = f"{1000 * r['seconds'] / r['steps']:8.1f}" if r["steps"] else f"{'-':>8s}"  # whole cell / steps
        print(f"{r['cell']:>4} {r['seconds']:8.2f} {r['data']:7.2f} {r['forward']:8.2f} {r['backward']:9.2f} "
              f"{r['optimiser']:10.2f} {max(0.0, r['seconds'] - timed):7.2f} {r['steps']:6d} {per_step}  {r['source']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
