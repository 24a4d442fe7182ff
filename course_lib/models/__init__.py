"""Model families, one per module (see each module's docstring).

All models take ``(B, C, H, W)`` float images; classifiers return ``(B, num_classes)`` logits,
image-to-image models (U-Net, denoiser, super-resolution, inpainting, style transfer) images.
Every builder returns a freshly initialised model in train mode. The main class of each family
is exported here; helpers stay in their module (e.g. ``course_lib.models.inpainting.blur_fill``).
"""

from .alexnet import AlexNet, alexnet
from .autoencoder import Autoencoder
from .denoiser import DnCNN
from .cyclegan import PatchDiscriminator, ResnetGenerator
from .features import VGGFeatures
from .gan import (ConditionalDCGANDiscriminator, ConditionalDCGANGenerator, DCGANDiscriminator, DCGANGenerator,
                  MLPDiscriminator, MLPGenerator)
from .detector import CenterNet, centernet_loss, decode_detections, encode_targets, focal_loss
from .cifar_resnet import CifarResNet, ZeroPadShortcut, cifar_resnet, cifar_resnet18
from .inpainting import InpaintingUNet
from .lenet import LeNet5
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50
from .simple_cnn import SimpleCNN
from .style_transfer import TransformerNet
from .stylegan import StyleGenerator
from .superres import SRCNN, SRResNet
from .unet import UNet
from .vae import VAE
from .vgg import VGG, cfgs, make_layers, vgg11, vgg11_bn, vgg16, vgg16_bn
from .vit import VisionTransformer, vit_b_16

__all__ = [
    "AlexNet", "alexnet",
    "Autoencoder", "DnCNN", "VAE",
    "ConditionalDCGANDiscriminator", "ConditionalDCGANGenerator",
    "DCGANDiscriminator", "DCGANGenerator", "MLPDiscriminator", "MLPGenerator",
    "UNet",
    "BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet34", "resnet50",
    "CenterNet", "centernet_loss", "decode_detections", "encode_targets", "focal_loss",
    "CifarResNet", "ZeroPadShortcut", "cifar_resnet", "cifar_resnet18",
    "LeNet5",
    "SimpleCNN",
    "VGG", "cfgs", "make_layers", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn",
    "VisionTransformer", "vit_b_16",
    "PatchDiscriminator", "ResnetGenerator", "StyleGenerator",
    "SRCNN", "SRResNet", "InpaintingUNet", "TransformerNet", "VGGFeatures",
]
