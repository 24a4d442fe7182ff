"""Pretrained weights through torchvision's weights API, with an offline fallback.

torchvision describes every set of pretrained weights with an enum member, for example
``ResNet18_Weights.IMAGENET1K_V1`` (alias ``ResNet18_Weights.DEFAULT``). The member carries

* ``url``: where the ``state_dict`` is downloaded from;
* ``meta["categories"]``: the class names, in the order of the model's logits;
* ``transforms()``: the preprocessing the weights were trained with (resize, crop, normalise).

The metadata is part of torchvision and works offline; only the ``state_dict`` needs the
network (or a copy on disk). Downloaded weights land in ``<data_dir>/weights/checkpoints/``
(:func:`course_lib.data.downloads.data_dir`: ``data/`` in a clone), fetched from
``$COURSE_DATA_MIRROR/weights/`` when that is set, and checked against the sha256 prefix in
the file's name either way. :func:`load_torchvision_weights` tries the download and,
when it fails, prints one line and returns a randomly initialised model, so that a notebook
goes on (its outputs are then those of an untrained network, and it says so).

The old ``pretrained=True`` argument still exists but has been deprecated since torchvision
0.13: use ``weights=``.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.models import WeightsEnum

from .data.downloads import data_dir, fetch, mirror
from .integrity import ChecksumError, load_verified

__all__ = ["course_model", "get_weights", "load_into", "load_torchvision_weights", "load_weights_file"]

# What a failed download raises: URLError/HTTPError/socket errors are OSErrors; a hash
# mismatch or a truncated file raises RuntimeError (or an unpickling error) on loading.
_DOWNLOAD_ERRORS = (OSError, RuntimeError, EOFError, ValueError)


def get_weights(model_name: str, weights: str | WeightsEnum = "DEFAULT") -> WeightsEnum:
    """The weights enum member for ``model_name`` (works offline: no download).

    Args:
        model_name: a torchvision builder name such as ``"resnet18"``.
        weights: a member (``ResNet18_Weights.DEFAULT``) or its name (``"DEFAULT"``,
            ``"IMAGENET1K_V1"``, ``"ResNet18_Weights.IMAGENET1K_V1"``).

    >>> get_weights("resnet18").meta["categories"][281]
    'tabby'
    """
    try:
        enum = torchvision.models.get_model_weights(model_name)
    except (ValueError, KeyError):
        raise ValueError(f"unknown torchvision model {model_name!r}; see torchvision.models.list_models()") from None
    if isinstance(weights, enum):
        return weights
    if isinstance(weights, WeightsEnum):
        raise ValueError(f"{weights} are not weights for {model_name}; expected a member of {enum.__name__}")
    name = str(weights).removeprefix(enum.__name__ + ".")
    try:
        return enum[name]
    except KeyError:
        names = ", ".join(["DEFAULT", *enum.__members__])
        raise ValueError(f"{model_name} has no weights {weights!r}; expected one of {names}") from None


def load_torchvision_weights(model_name: str = "resnet18", weights: str | WeightsEnum | None = "DEFAULT",
                             verbose: bool = True) -> tuple[nn.Module, WeightsEnum | None]:
    """A torchvision model with pretrained weights, or with random weights when they cannot be had.

    Calls ``torchvision.models.get_model(model_name, weights=...)``, which uses the copy in
    ``torch.hub.get_dir()`` when there is one and downloads it otherwise. When that fails
    (offline: ``URLError`` within about 0.1 s), one line says so and a randomly initialised
    model of the same architecture is returned instead: never a traceback.

    Args:
        model_name: a torchvision builder name, e.g. ``"resnet18"``.
        weights: as in :func:`get_weights`; ``None`` asks for random weights on purpose.
        verbose: print one line saying what was loaded.

    Returns:
        ``(model, weights)``: the model in eval mode, and the weights member that was loaded,
        or ``None`` when the model has random weights. (The metadata of the weights you asked
        for is available offline through :func:`get_weights`.)
    """
    if weights is None:
        return torchvision.models.get_model(model_name, weights=None).eval(), None
    member = get_weights(model_name, weights)
    captured = io.StringIO()
    try:
        # torch.hub prints 'Downloading: "url" to path' on stdout before trying: keep it, and
        # show it only if the download succeeds (the progress bar goes to stderr).
        with contextlib.redirect_stdout(captured), _hub_dir(data_dir() / "weights"):
            if mirror() is not None:
                _fetch_from_mirror(member)
            model = torchvision.models.get_model(model_name, weights=member)
    except ChecksumError:
        raise  # a file that arrived corrupted (or a wrong mirror) is an error, not a fallback
    except _DOWNLOAD_ERRORS as error:
        if verbose:
            print(f"[course_lib] could not download {model_name} weights ({type(error).__name__}); "
                  "using random weights: outputs (predictions, features) are not the trained network's")
        return torchvision.models.get_model(model_name, weights=None).eval(), None
    if verbose:
        print(captured.getvalue(), end="")
        print(f"[course_lib] loaded {model_name} weights {member}")
    return model.eval(), member


@contextlib.contextmanager
def _hub_dir(path: Path):
    """torch.hub's folder set to ``path`` while the block runs (torchvision's builders take no folder)."""
    previous = torch.hub._hub_dir  # None unless someone called set_dir: then $TORCH_HOME/hub
    torch.hub.set_dir(str(path))
    try:
        yield
    finally:
        torch.hub._hub_dir = previous  # restore exactly, without pinning a resolved default


def _fetch_from_mirror(member: WeightsEnum) -> None:
    """Put ``member``'s file where torch.hub looks for it, from ``$COURSE_DATA_MIRROR/weights/``, verified.

    torchvision names each file ``<name>-<first sha256 hex digits>.pth``: those digits are checked.
    """
    name = member.url.rsplit("/", 1)[-1]
    match = torch.hub.HASH_REGEX.search(name)
    fetch([f"{mirror()}/weights"], Path(torch.hub.get_dir()) / "checkpoints" / name,
          match.group(1) if match else "", algorithm="sha256")


def load_into(model: nn.Module, state: nn.Module | dict[str, torch.Tensor]) -> nn.Module:
    """Copy a ``state_dict`` (or another module's) into ``model`` with ``strict=True``; returns ``model``.

    Strict loading checks that every parameter and buffer name matches in both directions
    and that every shape agrees, so an architecture that differs anywhere fails loudly
    instead of leaving some layers at their random initial values.
    """
    if isinstance(state, nn.Module):
        state = state.state_dict()
    if not isinstance(state, dict):
        raise ValueError(f"expected a module or a state_dict, got {type(state).__name__}")
    model.load_state_dict(state, strict=True)
    return model


def course_model(model_name: str = "resnet18", weights: str | WeightsEnum | None = "DEFAULT",
                 verbose: bool = True) -> tuple[nn.Module, WeightsEnum | None]:
    """``course_lib.models.<model_name>()`` carrying torchvision's weights (loaded with ``strict=True``).

    The course's models have torchvision's architecture and parameter names, so the same
    ``state_dict`` fits. Returns ``(model, weights)`` in eval mode as
    :func:`load_torchvision_weights` does (``weights`` is ``None`` for random weights).
    """
    from . import models

    builder = getattr(models, model_name, None)
    if builder is None or not callable(builder):
        raise ValueError(f"course_lib.models has no builder {model_name!r}")
    reference, loaded = load_torchvision_weights(model_name, weights, verbose=verbose)
    return load_into(builder(), reference).eval(), loaded


def load_weights_file(path: str | Path, sha256: str | None = None,
                      how_to_fix: str = "get the file again from where it came") -> dict[str, torch.Tensor]:
    """Load a ``state_dict`` saved with ``torch.save``: tensors and plain containers only.

    ``torch.load(..., weights_only=True)`` refuses files that would run arbitrary code on
    unpickling. With ``sha256`` (the full hex digest or a prefix of at least 8 characters),
    the file's hash is checked first by :func:`course_lib.integrity.load_verified`, which raises
    ``FileNotFoundError`` or ``ChecksumError`` (a ``ValueError``) ending with ``how_to_fix``.
    """
    if sha256 is None:
        return torch.load(path, map_location="cpu", weights_only=True)
    return load_verified(path, sha256, how_to_fix)
