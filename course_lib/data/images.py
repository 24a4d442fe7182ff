"""Natural photographs that ship inside scikit-image's wheel (no download needed).

Licences: see scikit-image's ``skimage/data/README.txt``; all of these are public domain or
CC0/CC-BY images chosen by scikit-image for redistribution.
"""

from __future__ import annotations

import numpy as np
import torch

# name -> scikit-image loader name. Colour photos first, then grey ones.
PHOTOS = {
    "astronaut": "astronaut", "chelsea": "chelsea", "coffee": "coffee", "rocket": "rocket",
    "hubble_deep_field": "hubble_deep_field", "retina": "retina",
    "immunohistochemistry": "immunohistochemistry", "motorcycle": "stereo_motorcycle",
    "camera": "camera", "brick": "brick", "grass": "grass", "gravel": "gravel",
    "moon": "moon", "coins": "coins", "page": "page", "text": "text",
}


def load_image(name: str) -> torch.Tensor:
    """A bundled photo as a float ``(3, H, W)`` tensor in [0, 1].

    Grey photos (camera, brick, ...) are repeated to 3 channels, so every photo has the same
    layout; take ``img[:1]`` for a single grey channel. Unknown names raise ``ValueError``
    listing the available ones.
    """
    if name not in PHOTOS:
        raise ValueError(f"unknown image {name!r}; available: {', '.join(PHOTOS)}")
    import skimage.data

    array = getattr(skimage.data, PHOTOS[name])()
    if isinstance(array, tuple):  # stereo_motorcycle returns (left, right, disparity)
        array = array[0]
    array = np.asarray(array)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)  # (H, W) -> (H, W, 3)
    array = array[..., :3]  # drop alpha if any
    if array.dtype != np.uint8:
        raise TypeError(f"expected a uint8 photo from scikit-image, got {array.dtype}")
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).float().div(255)  # (3, H, W)


def list_images() -> list[str]:
    """Names accepted by :func:`load_image`."""
    return list(PHOTOS)
