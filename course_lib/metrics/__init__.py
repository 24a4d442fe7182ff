"""Metrics of the course, one family per file, all importable from ``course_lib.metrics``.

- ``image``: PSNR and SSIM, and on the Y channel with a cropped border (restoration, super-resolution);
- ``detection``: average precision and mAP (COCO-style 101-point interpolation);
- ``segmentation``: confusion matrix, pixel accuracy, IoU, Dice;
- ``generative``: Fréchet distance, feature statistics, judge-based evaluation of generated digits.
"""

from .detection import average_precision, match_detections, mean_average_precision, precision_recall_curve
from .generative import JudgeReport, evaluate_with_judge, feature_statistics, frechet_distance
from .image import psnr, psnr_y, rgb_to_y, ssim, ssim_y
from .segmentation import confusion_matrix, dice, dice_per_class, iou_per_class, mean_iou, pixel_accuracy

__all__ = [
    "JudgeReport", "evaluate_with_judge", "feature_statistics", "frechet_distance",
    "average_precision", "confusion_matrix", "dice", "dice_per_class", "iou_per_class", "match_detections",
    "mean_average_precision", "mean_iou", "pixel_accuracy", "precision_recall_curve", "psnr", "psnr_y",
    "rgb_to_y", "ssim", "ssim_y",
]
