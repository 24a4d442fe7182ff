import math

import pytest
import torch

from course_lib.data.shapes import ShapesDataset, detection_collate
from course_lib.models.detector import CenterNet, decode_detections, encode_targets, focal_loss
from course_lib.ops import box_iou


@pytest.fixture(scope="module")
def batch():
    images, targets = detection_collate([ShapesDataset(8, size=64, seed=3)[i] for i in range(8)])
    return torch.stack(images), targets


def perfect_outputs(targets, num_classes=3, feature_size=(16, 16)):
    """Raw outputs a perfect network would produce: logits of the target heatmap, exact sizes and offsets."""
    enc = encode_targets(targets, num_classes, feature_size)
    return {"heatmap": torch.logit(enc["heatmap"].clamp(1e-6, 1 - 1e-6)), "size": enc["size"], "offset": enc["offset"]}


def test_raw_output_shapes_follow_the_stride():
    torch.manual_seed(0)
    model = CenterNet(num_classes=3, width=8).eval()
    out = model(torch.rand(2, 3, 96, 128))
    assert out["heatmap"].shape == (2, 3, 24, 32)
    assert out["size"].shape == out["offset"].shape == (2, 2, 24, 32)


def test_predict_returns_torchvision_style_detections(batch):
    images, _ = batch
    torch.manual_seed(0)
    model = CenterNet(num_classes=3, width=8)
    detections = model.predict(images[:3], score_threshold=0.0, max_detections=20)
    assert model.training, "predict must restore train mode"
    assert isinstance(detections, list) and len(detections) == 3
    for det in detections:
        assert set(det) == {"boxes", "scores", "labels"}
        n = len(det["scores"])
        assert det["boxes"].shape == (n, 4) and det["boxes"].dtype == torch.float32
        assert det["labels"].shape == (n,) and det["labels"].dtype == torch.int64
        assert 0 < n <= 20
        assert ((det["labels"] >= 1) & (det["labels"] <= 3)).all()
        assert ((det["scores"] >= 0) & (det["scores"] <= 1)).all()
        assert torch.all(det["scores"][:-1] >= det["scores"][1:]), "scores must be sorted"
        boxes = det["boxes"]
        assert (boxes >= 0).all() and (boxes <= 64).all()
        assert (boxes[:, 2] >= boxes[:, 0]).all() and (boxes[:, 3] >= boxes[:, 1]).all()


def test_encode_targets_by_hand():
    # one square of 12x8 pixels centred at (22, 30): cell (5, 7) with offset (0.5, 0.5)
    target = {"boxes": torch.tensor([[16.0, 26.0, 28.0, 34.0]]), "labels": torch.tensor([2])}
    enc = encode_targets([target], num_classes=3, feature_size=(16, 16), stride=4)
    assert enc["heatmap"][0, 1, 7, 5] == 1.0 and enc["heatmap"].max() == 1.0
    assert enc["heatmap"][0, 0].max() == 0 and enc["heatmap"][0, 2].max() == 0  # other classes empty
    assert enc["heatmap"][0, 1, 7, 6] < 1.0  # a Gaussian bump, not a plateau
    assert enc["mask"].sum() == 1 and enc["mask"][0, 7, 5]
    torch.testing.assert_close(enc["offset"][0, :, 7, 5], torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(enc["size"][0, :, 7, 5], torch.tensor([math.log(3.0), math.log(2.0)]))


def test_decoding_perfect_outputs_gives_back_the_ground_truth(batch):
    _, targets = batch
    detections = decode_detections(perfect_outputs(targets), stride=4, score_threshold=0.5)
    for det, target in zip(detections, targets):
        assert len(det["boxes"]) == len(target["boxes"])
        iou = box_iou(det["boxes"], target["boxes"])
        best = iou.max(dim=0).values  # each ground truth found with IoU ~1, with the right label
        assert (best > 0.999).all()
        matched = iou.argmax(dim=0)
        assert torch.equal(det["labels"][matched], target["labels"])


def test_focal_loss_is_small_for_perfect_and_large_for_wrong_predictions(batch):
    _, targets = batch
    enc = encode_targets(targets, 3, (16, 16))
    good = focal_loss(torch.logit(enc["heatmap"].clamp(1e-4, 1 - 1e-4)), enc["heatmap"])
    flat = focal_loss(torch.zeros_like(enc["heatmap"]), enc["heatmap"])  # p = 0.5 everywhere
    inverted = focal_loss(torch.logit((1 - enc["heatmap"]).clamp(1e-4, 1 - 1e-4)), enc["heatmap"])
    assert good < 0.1 * flat and flat < inverted


def test_focal_loss_by_hand():
    # one centre predicted at p = 0.9, one neighbour (target 0.5) predicted at p = 0.5, one far cell at p = 0
    target = torch.tensor([1.0, 0.5, 0.0]).view(1, 1, 1, 3)
    logits = torch.logit(torch.tensor([0.9, 0.5, 1e-12])).view(1, 1, 1, 3).double()
    expected = -(0.1**2) * math.log(0.9) - (0.5**4) * (0.5**2) * math.log(0.5)  # divided by 1 object
    assert focal_loss(logits, target.double()).item() == pytest.approx(expected, rel=1e-6)


def test_loss_falls_when_overfitting_one_batch(batch):
    images, targets = batch
    torch.manual_seed(0)
    model = CenterNet(num_classes=3, width=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = model.loss(model(images), targets)["total"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.5 * losses[0], f"loss did not fall enough: {losses[0]:.3f} -> {losses[-1]:.3f}"


def test_every_parameter_gets_a_gradient(batch):
    images, targets = batch
    model = CenterNet(num_classes=3, width=8)
    model.loss(model(images[:2]), targets[:2])["total"].backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"no gradient for {missing}"


def test_eval_mode_is_deterministic_and_independent_of_the_batch(batch):
    images, _ = batch
    torch.manual_seed(0)
    model = CenterNet(num_classes=3, width=8)
    model(images)  # one training-mode pass changes the BatchNorm running statistics
    first = model.predict(images[:4])
    again = model.predict(images[:4])
    alone = model.predict(images[2:3])
    for a, b in zip(first, again):
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert len(alone) == 1
    # compare the network outputs, not the decoded top-k: with several threads, float sums
    # differ in the last bits between batch sizes, which can swap near-tied peaks
    model.eval()
    with torch.no_grad():
        batched, single = model(images[:4]), model(images[2:3])
    for key in batched:
        torch.testing.assert_close(single[key][0], batched[key][2], atol=1e-4, rtol=1e-4)


def test_nms_option_removes_same_class_duplicates():
    heat = torch.full((1, 1, 16, 16), -10.0)
    heat[0, 0, 4, 4] = 3.0
    heat[0, 0, 4, 6] = 2.0  # a second peak two cells away: same object seen twice
    outputs = {"heatmap": heat, "size": torch.full((1, 2, 16, 16), math.log(4.0)), "offset": torch.zeros(1, 2, 16, 16)}
    assert len(decode_detections(outputs)[0]["boxes"]) == 2
    kept = decode_detections(outputs, nms_threshold=0.3)[0]
    assert len(kept["boxes"]) == 1 and kept["scores"][0] == torch.sigmoid(torch.tensor(3.0))


@pytest.mark.parametrize("shape, message", [((3, 64, 64), "(B, 3, H, W)"), ((2, 1, 64, 64), "(B, 3, H, W)"),
                                            ((2, 3, 60, 64), "multiples of 16")])
def test_bad_image_shapes_raise_clear_errors(shape, message):
    model = CenterNet(num_classes=3, width=8)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        model(torch.rand(shape))


def test_bad_targets_raise_clear_errors():
    model = CenterNet(num_classes=3, width=8)
    outputs = model(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match="x1 < x2"):
        model.loss(outputs, [{"boxes": torch.tensor([[30.0, 10, 20, 20]]), "labels": torch.tensor([1])}])
    with pytest.raises(ValueError, match="1..3"):
        model.loss(outputs, [{"boxes": torch.tensor([[10.0, 10, 20, 20]]), "labels": torch.tensor([0])}])
    with pytest.raises(ValueError, match="targets for a batch"):
        model.loss(outputs, [])
    with pytest.raises(TypeError, match="float"):
        model((torch.rand(1, 3, 64, 64) * 255).to(torch.uint8))
