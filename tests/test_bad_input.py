"""Bad input is refused with a message that names what was expected and what came (REVIEW.md, Code).

Each case used to slip through (a wrong result) or end in a raw torch error far from the cause.
"""

import pytest
import torch

from course_lib import classic, ops
from course_lib.metrics import ssim
from course_lib.models import UNet

img = torch.rand(1, 32, 32)
pair = (torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 32))
boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0]])
scores = torch.tensor([0.9, 0.8])

CASES = [
    ("an (H, W, C) image to a filter", lambda: classic.gaussian_blur(torch.rand(64, 64, 3), 1.0), ValueError,
     r"expected channels first.*got \(64, 64, 3\), which looks like \(H, W, C\); use img.permute\(2, 0, 1\)"),
    ("a (B, H, W, C) batch to the median filter", lambda: classic.median_filter(torch.rand(2, 64, 64, 3)),
     ValueError, r"got \(2, 64, 64, 3\), which looks like \(B, H, W, C\); use img.permute\(0, 3, 1, 2\)"),
    ("ssim with sigma 0", lambda: ssim(*pair, sigma=0), ValueError, r"sigma .* must be positive, got 0"),
    ("ssim with a negative sigma", lambda: ssim(*pair, sigma=-1.5), ValueError, r"must be positive, got -1.5"),
    ("ssim with win_size -1", lambda: ssim(*pair, win_size=-1), ValueError,
     r"odd positive win_size <= H, W; got win_size=-1 for images \(1, 1, 32, 32\)"),
    ("gaussian_blur with a negative truncate", lambda: classic.gaussian_blur(img, 1.0, truncate=-3), ValueError,
     r"truncate must be positive, got -3"),
    ("canny on an empty image", lambda: classic.canny(torch.rand(1, 0, 0)), ValueError,
     r"at least 1 x 1 pixels, got \(1, 0, 0\)"),
    ("equalize_histogram with one bin", lambda: classic.equalize_histogram(img, nbins=1), ValueError,
     r"nbins must be an int >= 2, got 1"),
    ("nms with scores in a list", lambda: ops.nms(boxes, [0.9, 0.8], 0.5), TypeError,
     r"scores: expected a tensor of shape \(2,\), got list"),
    ("nms with an IoU threshold above 1", lambda: ops.nms(boxes, scores, 2.0), ValueError,
     r"iou_threshold: expected a number in \[0, 1\], got 2.0"),
    ("batched_nms with one label for two boxes", lambda: ops.batched_nms(boxes, scores, torch.tensor([0]), 0.5),
     ValueError, r"labels: expected shape \(2,\), one class per box, got \(1,\)"),
    ("batched_nms with float labels", lambda: ops.batched_nms(boxes, scores, torch.tensor([0.0, 1.0]), 0.5),
     TypeError, r"integer class indices, got dtype torch.float32"),
    ("batched_nms with a negative threshold", lambda: ops.batched_nms(boxes, scores, torch.tensor([0, 1]), -0.1),
     ValueError, r"iou_threshold: expected a number in \[0, 1\], got -0.1"),
    ("a uint8 image to the U-Net", lambda: UNet(1, 2, base_channels=4, depth=2)(torch.zeros(1, 1, 16, 16, dtype=torch.uint8)),
     TypeError, r"expected a torch.float32 input like its weights, got torch.uint8 \(convert uint8 images"),
    ("a float64 image to a float32 U-Net",
     lambda: UNet(1, 2, base_channels=4, depth=2)(torch.zeros(1, 1, 16, 16, dtype=torch.float64)), TypeError,
     r"expected a torch.float32 input like its weights, got torch.float64 \(use x.to\(torch.float32\)"),
]


@pytest.mark.parametrize("call, error, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_a_clear_message(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_channels_first_images_and_valid_arguments_still_work():
    assert classic.gaussian_blur(torch.rand(3, 64, 64), 1.0).shape == (3, 64, 64)
    assert classic.median_filter(torch.rand(2, 1, 8, 3)).shape == (2, 1, 8, 3)  # a narrow grey image is fine
    assert ops.batched_nms(boxes, scores, torch.tensor([0, 1]), 0.5).tolist() == [0, 1]
    assert ops.nms(boxes, scores, 0.5).tolist() == [0]
    assert UNet(1, 2, base_channels=4, depth=2)(torch.zeros(1, 1, 16, 16)).shape == (1, 2, 16, 16)
