"""Reference PyTorch modules for the models Contrastive Studio exports (shared by the test
scripts): torchvision's ResNets adapted to the studio's stems, and the small ConvNet under
its documented exchange names (README, "Model exchange")."""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class StudioConvNet(nn.Module):
    """The studio's ConvNet: three conv-BN-ReLU stages (3x3, no bias), 2x2 max pooling after
    the first two, global average pooling. Exchange names conv1/bn1 ... conv3/bn3."""

    def __init__(self, in_channels, width, num_classes=0):
        super().__init__()
        w = width
        self.conv1 = nn.Conv2d(in_channels, w, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.conv2 = nn.Conv2d(w, 2 * w, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * w)
        self.conv3 = nn.Conv2d(2 * w, 4 * w, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * w)
        self.fc = nn.Linear(4 * w, num_classes) if num_classes else nn.Identity()

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = F.relu(self.bn3(self.conv3(x)))
        return self.fc(x.mean((2, 3)))


def build(arch, num_classes=None):
    """The torch module for an architecture.json: torchvision's ResNet as it comes (with its
    fc, num_classes or torchvision's 1000; conv1 replaced for a CIFAR stem or a channel count
    other than 3, maxpool dropped for the CIFAR stem), or the ConvNet (fc = Identity unless
    num_classes is given)."""
    kind = arch["backbone"]
    if kind == "convnet":
        return StudioConvNet(arch["in_channels"], arch["width"], num_classes or 0)
    model = getattr(torchvision.models, kind)(num_classes=num_classes or 1000)
    channels = arch["in_channels"]
    if arch["stem"] == "cifar":
        model.conv1 = nn.Conv2d(channels, 64, 3, 1, 1, bias=False)
        model.maxpool = nn.Identity()
    elif channels != 3:
        model.conv1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
    return model
