"""Model families, one per module (see each module's docstring).

All models take ``(B, C, H, W)`` float images and return ``(B, num_classes)`` logits;
every builder returns a freshly initialised model in train mode.
"""

from .alexnet import AlexNet, alexnet
from .autoencoder import Autoencoder
from .denoiser import DnCNN
from .gan import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from .detector import CenterNet, centernet_loss, decode_detections, encode_targets, focal_loss
from .cifar_resnet import CifarResNet, ZeroPadShortcut, cifar_resnet, cifar_resnet18
from .lenet import LeNet5
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50
from .simple_cnn import SimpleCNN
from .unet import UNet
from .vae import VAE
from .vgg import VGG, cfgs, make_layers, vgg11, vgg11_bn, vgg16, vgg16_bn

__all__ = [
    "AlexNet", "alexnet",
    "Autoencoder", "DnCNN", "VAE",
    "DCGANDiscriminator", "DCGANGenerator", "MLPDiscriminator", "MLPGenerator",
    "UNet",
    "BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet34", "resnet50",
    "CenterNet", "centernet_loss", "decode_detections", "encode_targets", "focal_loss",
    "CifarResNet", "ZeroPadShortcut", "cifar_resnet", "cifar_resnet18",
    "LeNet5",
    "SimpleCNN",
    "VGG", "cfgs", "make_layers", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn",
]
