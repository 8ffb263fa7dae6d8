"""The model zoos ``model=torchvision|keras|gluon`` offer, known without importing their frameworks (standard library).

The orchestrator has none of torchvision, Keras or Gluon, but it refuses an unknown architecture before anything runs
and gives each job its input size. Each zoo lists the classification architectures of the library version its runtime
environment pins (``envs/specs/<runtime>.txt``) and each architecture's documented input size where it is not 224;
``tests/models/test_zoo_catalog.py`` checks both against the installed libraries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_IMAGE_SIZE = 224


def close_names(name: str, names, limit: int = 5) -> list[str]:
    """Up to ``limit`` of ``names`` that begin as ``name`` does (case aside): what a refusal suggests."""
    return [n for n in names if n.lower().startswith(name[:3].lower())][:limit] if name else []


@dataclass(frozen=True)
class Zoo:
    """One model zoo: ``model=<option> model.arch=<one of archs>``, built in ``runtime`` (and exported to ONNX from it)."""

    option: str  # the config group option, e.g. keras
    runtime: str  # the framework it builds in: torch | tf | mxnet
    library: str  # the library and its pinned version, as messages name it
    archs: tuple[str, ...]
    listing: str  # how a user lists the architectures themselves
    weights: str  # what model.weights holds for it, and how to write one
    examples: tuple[str, ...]
    sizes: dict[str, int] = field(default_factory=dict)  # documented input sizes other than 224

    def image_size(self, arch: str) -> int:
        """The input size ``arch`` is documented for."""
        return self.sizes.get(arch, DEFAULT_IMAGE_SIZE)

    def unknown_arch(self, arch: str) -> str:
        """The one-line refusal of an architecture this zoo does not have, with a few that it has."""
        close = close_names(arch, self.archs)
        shown = ", ".join(dict.fromkeys([*close, *self.examples]))
        return (
            f"model.arch={arch} is not a {self.library} classification architecture; allowed: {shown}, … "
            f"({len(self.archs)} in all: {self.listing})"
        )

    def required(self) -> str:
        """What ``model=<option>`` without an architecture is told."""
        return (
            f"model={self.option} needs an architecture: model.arch=<name> (e.g. {', '.join(self.examples[:4])}; "
            f"{self.listing})"
        )


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
# Documented sizes other than 224. vit_h_14's default weights are 518 px, but the architecture built without
# weights takes 224 (its image_size argument), as every ViT here does.
TORCHVISION_IMAGE_SIZES = {
    "efficientnet_b1": 240, "efficientnet_b2": 288, "efficientnet_b3": 300, "efficientnet_b4": 380,
    "efficientnet_b5": 456, "efficientnet_b6": 528, "efficientnet_b7": 600, "efficientnet_v2_l": 480,
    "efficientnet_v2_m": 480, "efficientnet_v2_s": 384, "inception_v3": 299, "regnet_y_128gf": 384,
    "swin_v2_b": 256, "swin_v2_s": 256, "swin_v2_t": 256,
}  # fmt: skip

# keras.applications of the Keras that tensorflow-cpu 2.21 installs; sizes are each function's default_size
KERAS_VERSION = "3"
KERAS_ARCHS = (
    "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtSmall", "ConvNeXtTiny", "ConvNeXtXLarge", "DenseNet121", "DenseNet169",
    "DenseNet201", "EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetB4",
    "EfficientNetB5", "EfficientNetB6", "EfficientNetB7", "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2",
    "EfficientNetV2B3", "EfficientNetV2L", "EfficientNetV2M", "EfficientNetV2S", "InceptionResNetV2", "InceptionV3",
    "MobileNet", "MobileNetV2", "MobileNetV3Large", "MobileNetV3Small", "NASNetLarge", "NASNetMobile", "ResNet101",
    "ResNet101V2", "ResNet152", "ResNet152V2", "ResNet50", "ResNet50V2", "VGG16", "VGG19", "Xception",
)  # fmt: skip
KERAS_IMAGE_SIZES = {
    "EfficientNetB1": 240, "EfficientNetB2": 260, "EfficientNetB3": 300, "EfficientNetB4": 380,
    "EfficientNetB5": 456, "EfficientNetB6": 528, "EfficientNetB7": 600, "EfficientNetV2B1": 240,
    "EfficientNetV2B2": 260, "EfficientNetV2B3": 300, "EfficientNetV2L": 480, "EfficientNetV2M": 480,
    "EfficientNetV2S": 384, "InceptionResNetV2": 299, "InceptionV3": 299, "NASNetLarge": 331, "Xception": 299,
}  # fmt: skip

# mxnet.gluon.model_zoo.vision of mxnet 1.9.1 (get_model's names); inceptionv3 takes 299
GLUON_ARCHS = (
    "alexnet", "densenet121", "densenet161", "densenet169", "densenet201", "inceptionv3", "mobilenet0.25",
    "mobilenet0.5", "mobilenet0.75", "mobilenet1.0", "mobilenetv2_0.25", "mobilenetv2_0.5", "mobilenetv2_0.75",
    "mobilenetv2_1.0", "resnet101_v1", "resnet101_v2", "resnet152_v1", "resnet152_v2", "resnet18_v1", "resnet18_v2",
    "resnet34_v1", "resnet34_v2", "resnet50_v1", "resnet50_v2", "squeezenet1.0", "squeezenet1.1", "vgg11", "vgg11_bn",
    "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
)  # fmt: skip

ZOOS = {
    "torchvision": Zoo(
        option="torchvision",
        runtime="torch",
        library=f"torchvision {TORCHVISION_VERSION}",
        archs=TORCHVISION_ARCHS,
        listing="torchvision.models.list_models(module=torchvision.models)",
        weights="a PyTorch state dict file (torch.save(model.state_dict(), path))",
        examples=("resnet18", "mobilenet_v3_small", "efficientnet_b0", "convnext_tiny", "vit_b_16"),
        sizes=TORCHVISION_IMAGE_SIZES,
    ),
    "keras": Zoo(
        option="keras",
        runtime="tf",
        library=f"Keras {KERAS_VERSION} (keras.applications)",
        archs=KERAS_ARCHS,
        listing="the classes of keras.applications",
        weights="a Keras weights file (model.save_weights(path), path ending .weights.h5)",
        examples=("MobileNetV3Small", "EfficientNetB0", "ResNet50V2", "ConvNeXtTiny", "Xception"),
        sizes=KERAS_IMAGE_SIZES,
    ),
    "gluon": Zoo(
        option="gluon",
        runtime="mxnet",
        library="Gluon model zoo (mxnet 1.9.1)",
        archs=GLUON_ARCHS,
        listing="mxnet.gluon.model_zoo.vision.get_model's names",
        weights="a Gluon parameters file (net.save_parameters(path))",
        examples=("mobilenet0.25", "mobilenetv2_1.0", "resnet18_v1", "squeezenet1.1", "densenet121"),
        sizes={"inceptionv3": 299},
    ),
}
