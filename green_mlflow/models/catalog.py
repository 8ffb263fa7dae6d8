"""What ``model=torchvision`` offers, known without importing torch (standard library only).

The orchestrator has no torchvision, but it refuses an unknown architecture before anything runs and
gives each job its input size. This is ``torchvision.models.list_models(module=torchvision.models)`` of the
torchvision the torch environment pins (``envs/specs/torch.txt``), and each architecture's documented input
size (the crop of its default weights' transforms) where it is not 224;
``tests/models/test_own_models.py`` checks both against the installed torchvision.
"""

from __future__ import annotations

TORCHVISION_VERSION = "0.29"
TORCHVISION_ARCHS = (
    "alexnet", "convnext_base", "convnext_large", "convnext_small", "convnext_tiny", "densenet121", "densenet161",
    "densenet169", "densenet201", "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
    "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7", "efficientnet_v2_l",
    "efficientnet_v2_m", "efficientnet_v2_s", "googlenet", "inception_v3", "maxvit_t", "mnasnet0_5", "mnasnet0_75",
    "mnasnet1_0", "mnasnet1_3", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "regnet_x_16gf",
    "regnet_x_1_6gf", "regnet_x_32gf", "regnet_x_3_2gf", "regnet_x_400mf", "regnet_x_800mf", "regnet_x_8gf",
    "regnet_y_128gf", "regnet_y_16gf", "regnet_y_1_6gf", "regnet_y_32gf", "regnet_y_3_2gf", "regnet_y_400mf",
    "regnet_y_800mf", "regnet_y_8gf", "resnet101", "resnet152", "resnet18", "resnet34", "resnet50",
    "resnext101_32x8d", "resnext101_64x4d", "resnext50_32x4d", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5", "shufflenet_v2_x2_0", "squeezenet1_0", "squeezenet1_1", "swin_b", "swin_s", "swin_t",
    "swin_v2_b", "swin_v2_s", "swin_v2_t", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
    "vgg19_bn", "vit_b_16", "vit_b_32", "vit_h_14", "vit_l_16", "vit_l_32", "wide_resnet101_2", "wide_resnet50_2",
)  # fmt: skip
DEFAULT_IMAGE_SIZE = 224
# Documented sizes other than 224. vit_h_14's default weights are 518 px, but the architecture built without
# weights takes 224 (its image_size argument), as every ViT here does.
TORCHVISION_IMAGE_SIZES = {
    "efficientnet_b1": 240, "efficientnet_b2": 288, "efficientnet_b3": 300, "efficientnet_b4": 380,
    "efficientnet_b5": 456, "efficientnet_b6": 528, "efficientnet_b7": 600, "efficientnet_v2_l": 480,
    "efficientnet_v2_m": 480, "efficientnet_v2_s": 384, "inception_v3": 299, "regnet_y_128gf": 384,
    "swin_v2_b": 256, "swin_v2_s": 256, "swin_v2_t": 256,
}  # fmt: skip
EXAMPLES = ("resnet18", "mobilenet_v3_small", "efficientnet_b0", "convnext_tiny", "vit_b_16")


def unknown_arch(arch: str) -> str:
    """The one-line refusal of an architecture torchvision does not have, with a few that it has."""
    close = [name for name in TORCHVISION_ARCHS if name.startswith(arch[:3].lower())][:5] if arch else []
    shown = ", ".join(dict.fromkeys([*close, *EXAMPLES]))
    return (
        f"model.arch={arch} is not a torchvision {TORCHVISION_VERSION} classification architecture; allowed: "
        f"{shown}, … ({len(TORCHVISION_ARCHS)} in all: torchvision.models.list_models(module=torchvision.models))"
    )


def image_size(arch: str) -> int:
    """The input size ``arch`` is documented for."""
    return TORCHVISION_IMAGE_SIZES.get(arch, DEFAULT_IMAGE_SIZE)
