import pytest
import torch
import torchvision.ops as tvops

from course_lib.ops import batched_nms, box_area, box_convert, box_iou, nms


def random_boxes(n, seed=0, scale=100.0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * scale
    wh = torch.rand(n, 2, generator=g) * scale / 3 + 1
    return torch.cat([xy, xy + wh], dim=1)


def test_quarter_size_box_inside_another_has_iou_one_quarter():
    outer = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    inner = torch.tensor([[0.0, 0.0, 5.0, 5.0]])
    assert box_iou(outer, inner).item() == pytest.approx(0.25)


def test_disjoint_and_identical_boxes():
    a = torch.tensor([[0.0, 0.0, 1.0, 1.0], [2.0, 2.0, 3.0, 3.0]])
    iou = box_iou(a, a)
    assert torch.equal(iou, torch.eye(2))


@pytest.mark.parametrize("seed", range(3))
def test_box_iou_and_area_match_torchvision(seed):
    a, b = random_boxes(40, seed), random_boxes(30, seed + 10)
    torch.testing.assert_close(box_iou(a, b), tvops.box_iou(a, b))
    torch.testing.assert_close(box_area(a), tvops.box_area(a))


@pytest.mark.parametrize("in_fmt, out_fmt", [("xyxy", "xywh"), ("xyxy", "cxcywh"), ("xywh", "cxcywh"),
                                             ("cxcywh", "xyxy"), ("xywh", "xyxy"), ("cxcywh", "xywh")])
def test_box_convert_matches_torchvision_and_round_trips(in_fmt, out_fmt):
    boxes = tvops.box_convert(random_boxes(20), "xyxy", in_fmt)
    out = box_convert(boxes, in_fmt, out_fmt)
    torch.testing.assert_close(out, tvops.box_convert(boxes, in_fmt, out_fmt))
    torch.testing.assert_close(box_convert(out, out_fmt, in_fmt), boxes)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_nms_matches_torchvision(seed, threshold):
    boxes = random_boxes(200, seed, scale=50.0)
    scores = torch.rand(200, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(nms(boxes, scores, threshold), tvops.nms(boxes, scores, threshold))


def test_nms_ties_keep_input_order_like_torchvision():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10]])
    scores = torch.tensor([0.9, 0.9, 0.9, 0.9])
    assert torch.equal(nms(boxes, scores, 0.5), tvops.nms(boxes, scores, 0.5))


def test_nms_hand_case():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]])
    scores = torch.tensor([0.8, 0.9, 0.5])
    # box 1 wins, box 0 overlaps it with IoU 9/11 > 0.5 and is removed, box 2 is far away
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]


def test_batched_nms_matches_torchvision():
    boxes = random_boxes(150, 3, scale=40.0)
    scores = torch.rand(150, generator=torch.Generator().manual_seed(1))
    labels = torch.randint(0, 3, (150,), generator=torch.Generator().manual_seed(2))
    assert torch.equal(batched_nms(boxes, scores, labels, 0.5), tvops.batched_nms(boxes, scores, labels, 0.5))


def test_empty_inputs():
    empty = torch.zeros(0, 4)
    assert box_iou(empty, random_boxes(3)).shape == (0, 3)
    assert nms(empty, torch.zeros(0), 0.5).shape == (0,)
    assert batched_nms(empty, torch.zeros(0), torch.zeros(0, dtype=torch.long), 0.5).shape == (0,)


def test_bad_boxes_raise_clear_errors():
    with pytest.raises(ValueError, match=r"x1 <= x2.*box 0"):
        box_iou(torch.tensor([[5.0, 0, 1, 1]]), random_boxes(2))
    with pytest.raises(ValueError, match=r"expected shape \(N, 4\), got \(3,\)"):
        box_area(torch.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="float"):
        box_area(torch.tensor([[0, 0, 1, 1]]))
    with pytest.raises(ValueError, match=r"scores: expected shape \(2,\)"):
        nms(random_boxes(2), torch.rand(3), 0.5)
    with pytest.raises(ValueError, match="unknown box format"):
        box_convert(random_boxes(2), "xyxy", "yxyx")
