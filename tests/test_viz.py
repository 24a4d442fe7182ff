"""Tests of course_lib.viz: the figures have the panels, numbers and errors they promise."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_lib.viz import plot_confusion_matrix, plot_history, show_feature_maps, show_images  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _cell_texts(ax):
    return [t.get_text() for t in ax.texts]


def test_confusion_matrix_writes_every_count_with_true_classes_on_rows():
    cm = torch.tensor([[5, 1, 0], [0, 7, 2], [3, 0, 4]])
    fig = plot_confusion_matrix(cm, classes=["a", "b", "c"], title="cm")
    ax = fig.axes[0]
    assert len(fig.axes) == 2  # the matrix and its colour bar
    assert _cell_texts(ax) == ["5", "1", "0", "0", "7", "2", "3", "0", "4"]  # row-major: row = true class
    assert ax.get_ylabel() == "true class" and ax.get_xlabel() == "predicted class"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert np.array_equal(ax.images[0].get_array(), cm.numpy())


def test_normalised_confusion_matrix_rows_sum_to_one_and_empty_rows_stay_zero():
    cm = np.array([[2, 2, 0], [0, 0, 0], [1, 0, 3]])
    fig = plot_confusion_matrix(cm, normalize=True)
    shown = np.asarray(fig.axes[0].images[0].get_array())
    np.testing.assert_allclose(shown.sum(axis=1), [1.0, 0.0, 1.0])
    assert _cell_texts(fig.axes[0])[:3] == ["0.50", "0.50", "0.00"]


@pytest.mark.parametrize("bad", [np.zeros((3, 4)), np.zeros(3), np.zeros((0, 0)), -np.eye(2)])
def test_confusion_matrix_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        plot_confusion_matrix(bad)


def test_confusion_matrix_rejects_wrong_number_of_class_names():
    with pytest.raises(ValueError, match="2 class names for a 3x3"):
        plot_confusion_matrix(np.eye(3), classes=["a", "b"])


def test_feature_maps_one_visible_panel_per_channel():
    maps = torch.randn(1, 6, 10, 12)
    fig = show_feature_maps(maps, ncols=4)
    assert len(fig.axes) == 8  # a 2 x 4 grid
    visible = [ax for ax in fig.axes if ax.images]
    assert len(visible) == 6
    assert [ax.get_title() for ax in visible] == [f"ch {i}" for i in range(6)]
    np.testing.assert_allclose(visible[5].images[0].get_array(), maps[0, 5].numpy(), rtol=1e-6)


def test_feature_maps_scale_each_channel_to_its_own_range():
    maps = torch.stack([torch.rand(5, 5), 1000 * torch.rand(5, 5)])  # very different ranges
    fig = show_feature_maps(maps)
    for ax, channel in zip(fig.axes, maps):
        low, high = ax.images[0].get_clim()
        assert low == pytest.approx(float(channel.min())) and high == pytest.approx(float(channel.max()))


@pytest.mark.parametrize("bad", [torch.zeros(5, 5), torch.zeros(2, 3, 5, 5), torch.zeros(0, 4, 4)])
def test_feature_maps_reject_anything_but_one_image(bad):
    with pytest.raises(ValueError):
        show_feature_maps(bad)


def test_feature_maps_reject_wrong_number_of_titles():
    with pytest.raises(ValueError, match="2 titles for 3 channels"):
        show_feature_maps(torch.zeros(3, 4, 4), titles=["a", "b"])


def test_show_images_grid_and_titles():
    fig = show_images(torch.rand(5, 1, 8, 8), titles=list("abcde"), ncols=3)
    assert len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes if ax.images] == list("abcde")
    with pytest.raises(ValueError):
        show_images(torch.rand(2, 1, 8, 8), titles=["only one"])


def test_plot_history_puts_losses_left_and_accuracies_right():
    fig = plot_history({"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "val_accuracy": [0.5, 0.8], "epoch": [1, 2]})
    left, right = fig.axes
    assert [line.get_label() for line in left.lines] == ["train_loss", "val_loss"]
    assert [line.get_label() for line in right.lines] == ["val_accuracy"]
    with pytest.raises(ValueError):
        plot_history({"epoch": [1, 2]})
