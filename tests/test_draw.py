import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_lib.draw import draw_boxes, overlay_masks  # noqa: E402


def test_draw_boxes_adds_one_rectangle_and_caption_per_box():
    image = torch.rand(3, 32, 32)
    boxes = torch.tensor([[1.0, 2, 10, 12], [5, 5, 30, 30]])
    ax = draw_boxes(image, boxes, torch.tensor([1, 2]), torch.tensor([0.9, 0.4]),
                    class_names=["bg", "circle", "square"])
    assert len(ax.patches) == 2
    assert [t.get_text() for t in ax.texts] == ["circle 0.90", "square 0.40"]
    plt.close("all")


def test_draw_boxes_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"expected shape \(N, 4\)"):
        draw_boxes(torch.rand(3, 8, 8), torch.zeros(4))
    with pytest.raises(ValueError, match="2 labels for 1 boxes"):
        draw_boxes(torch.rand(3, 8, 8), torch.zeros(1, 4), torch.tensor([1, 2]))


def test_overlay_leaves_background_untouched_and_tints_objects():
    image = torch.full((3, 4, 4), 0.5)
    semantic = torch.zeros(4, 4, dtype=torch.long)
    semantic[1, 1] = 2
    out = overlay_masks(image, semantic, alpha=1.0)
    assert out.shape == (3, 4, 4)
    assert torch.equal(out[:, 0, 0], image[:, 0, 0])
    assert not torch.equal(out[:, 1, 1], image[:, 1, 1])


def test_overlay_rejects_mismatched_mask():
    with pytest.raises(ValueError, match=r"expected shape \(4, 4\)"):
        overlay_masks(torch.rand(3, 4, 4), torch.zeros(5, 5, dtype=torch.long))
