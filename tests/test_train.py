import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_lib.train import checkpoint_path, evaluate, fit, load_checkpoint
from course_lib.utils import seed_everything


def make_problem(n=256, seed=0):
    """Two Gaussian blobs in 2-D: linearly separable classes 0 and 1."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    points = torch.randn(n, 2, generator=g) * 0.5 + (labels[:, None] * 2 - 1) * 1.5
    return TensorDataset(points, labels)


def make_model():
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))


def train(epochs, checkpoint=None, model=None, seed=0):
    seed_everything(seed)
    model = model or make_model()
    loader = DataLoader(make_problem(), batch_size=32, shuffle=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, loader, optimizer, epochs, val_loader=DataLoader(make_problem(seed=1), batch_size=64),
                  checkpoint=checkpoint, progress=False)
    return model, history


def test_fit_lowers_the_loss_and_reaches_high_accuracy():
    _, history = train(epochs=5)
    assert len(history["train_loss"]) == 5 and len(history["val_accuracy"]) == 5
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["val_accuracy"][-1] > 0.95


def test_fit_is_deterministic_for_a_seed():
    _, a = train(epochs=2, seed=3)
    _, b = train(epochs=2, seed=3)
    assert a["train_loss"] == b["train_loss"]


def test_evaluate_counts_accuracy_and_restores_mode():
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))  # class = sign of x
    data = TensorDataset(torch.tensor([[1.0, 0], [-1.0, 0], [2.0, 0], [-3.0, 0]]), torch.tensor([1, 0, 0, 0]))
    model.train()
    result = evaluate(model, DataLoader(data, batch_size=3))
    assert result["accuracy"] == pytest.approx(0.75)
    assert model.training


def test_checkpoint_is_saved_and_resumed(capsys):
    model, history = train(epochs=2, checkpoint="blobs")
    path = checkpoint_path("blobs")
    state = load_checkpoint(path)
    assert state["epoch"] == 2 and not path.with_name(path.name + ".tmp").exists()
    assert torch.equal(state["model"]["0.weight"], model.state_dict()["0.weight"])
    # a second call with more epochs resumes after epoch 2 and only trains the rest
    _, resumed = train(epochs=3, checkpoint="blobs")
    assert "resumed" in capsys.readouterr().out
    assert resumed["train_loss"][:2] == history["train_loss"] and len(resumed["train_loss"]) == 3


def test_checkpoint_names_cannot_escape_runs():
    for bad in ("../x", "a/b", ""):
        with pytest.raises(ValueError):
            checkpoint_path(bad)


def test_empty_loader_is_an_error():
    with pytest.raises(ValueError, match="no batches"):
        fit(make_model(), [], torch.optim.SGD(make_model().parameters(), lr=0.1), 1, progress=False)


KILLED_TRAINING = """
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from course_lib.train import fit
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(2, 1500), nn.ReLU(), nn.Linear(1500, 1500), nn.ReLU(), nn.Linear(1500, 2))  # ~9 MB
data = TensorDataset(torch.randn(64, 2), torch.arange(64) % 2)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)  # Adam: the checkpoint is 3x the weights
fit(model, DataLoader(data, batch_size=64), optimizer, epochs=10_000, checkpoint="killed", progress=False)
"""


def test_a_killed_training_leaves_its_last_checkpoint_intact_and_resumes(tmp_path, monkeypatch):
    """SIGKILL while a checkpoint is being written: the previous one survives and the next run resumes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    monkeypatch.setenv("COURSE_RUNS_DIR", str(tmp_path))
    path = tmp_path / "checkpoints" / "killed.pt"
    tmp = path.with_name(path.name + ".tmp")
    child = subprocess.Popen([sys.executable, "-c", KILLED_TRAINING], env={**os.environ, "OMP_NUM_THREADS": "1"})
    caught_mid_write, deadline = False, time.monotonic() + 120
    try:
        while time.monotonic() < deadline:  # wait for a second checkpoint being written over the first
            if path.exists() and tmp.exists():
                caught_mid_write = True
                break
            time.sleep(0.001)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert caught_mid_write, "the training never wrote a second checkpoint within 120 s"
    state = load_checkpoint(path)  # the last complete checkpoint, not half of the new one
    assert state["epoch"] >= 1 and len(state["history"]["train_loss"]) == state["epoch"]

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 1500), nn.ReLU(), nn.Linear(1500, 1500), nn.ReLU(), nn.Linear(1500, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    data = TensorDataset(torch.randn(64, 2), torch.arange(64) % 2)
    history = fit(model, DataLoader(data, batch_size=64), optimizer, epochs=state["epoch"] + 1, checkpoint="killed",
                  progress=False)
    assert len(history["train_loss"]) == state["epoch"] + 1  # resumed: one more epoch, not a fresh start
    assert history["train_loss"][:-1] == state["history"]["train_loss"]
