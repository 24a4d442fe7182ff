import pytest
import torch
from torch.utils.data import DataLoader

from course_lib.data.shapes import CLASSES, ShapesDataset, ShapesSegmentation, detection_collate, make_shapes_sample


@pytest.fixture(scope="module")
def shapes():
    return ShapesDataset(64, size=64, seed=0)


def test_sample_contract(shapes):
    for i in range(len(shapes)):
        image, target = shapes[i]
        n = len(target["labels"])
        assert image.shape == (3, 64, 64) and image.dtype == torch.float32
        assert 0 <= image.min() and image.max() <= 1
        assert 1 <= n <= 4
        assert target["boxes"].shape == (n, 4) and target["masks"].shape == (n, 64, 64)
        assert target["labels"].dtype == torch.int64 and set(target["labels"].tolist()) <= {1, 2, 3}
        assert target["semantic"].shape == (64, 64) and target["semantic"].dtype == torch.int64


def test_boxes_are_tight_around_the_masks_and_masks_match_semantic(shapes):
    for i in range(len(shapes)):
        _, target = shapes[i]
        semantic = torch.zeros(64, 64, dtype=torch.int64)
        for box, mask, label in zip(target["boxes"], target["masks"], target["labels"]):
            ys, xs = mask.nonzero(as_tuple=True)
            assert box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
            semantic[mask] = label
        assert torch.equal(semantic, target["semantic"])
        # instance masks do not overlap: each pixel belongs to at most one visible shape
        assert target["masks"].sum(0).max() <= 1


def test_every_class_appears_and_objects_overlap_sometimes(shapes):
    labels = torch.cat([shapes[i][1]["labels"] for i in range(len(shapes))])
    assert torch.bincount(labels, minlength=4)[1:].min() > 10
    overlapping = 0
    for i in range(len(shapes)):
        boxes = shapes[i][1]["boxes"]
        if len(boxes) > 1:
            from course_lib.ops import box_iou
            iou = box_iou(boxes, boxes) - torch.eye(len(boxes))
            overlapping += int((iou > 0).any())
    assert overlapping >= 5


def test_deterministic_and_independent_of_length():
    a = ShapesDataset(10, seed=3)[7]
    b = ShapesDataset(100, seed=3)[7]
    c = ShapesDataset(10, seed=4)[7]
    assert torch.equal(a[0], b[0]) and torch.equal(a[1]["boxes"], b[1]["boxes"])
    assert not torch.equal(a[0], c[0])


def test_classes_and_errors():
    assert CLASSES[0] == "background" and len(CLASSES) == 4
    with pytest.raises(IndexError):
        ShapesDataset(5)[5]
    with pytest.raises(ValueError, match="size"):
        make_shapes_sample(0, 0, size=16)


def test_loaders_for_detection_and_segmentation(shapes):
    images, targets = next(iter(DataLoader(shapes, batch_size=4, collate_fn=detection_collate)))
    assert len(images) == 4 and len(targets) == 4 and "boxes" in targets[0]
    seg_images, seg_masks = next(iter(DataLoader(ShapesSegmentation(shapes), batch_size=8)))
    assert seg_images.shape == (8, 3, 64, 64) and seg_masks.shape == (8, 64, 64)
