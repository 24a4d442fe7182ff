"""Data the course uses: bundled MNIST subset, bundled photos, and downloads when possible."""

from .images import PHOTOS, list_images, load_image
from .mnist import ImageClassificationSet, load_cifar10, load_fashion_mnist, load_mnist
from .splits import train_val_split

__all__ = [
    "ImageClassificationSet", "PHOTOS", "list_images", "load_cifar10", "load_fashion_mnist",
    "load_image", "load_mnist", "train_val_split",
]
