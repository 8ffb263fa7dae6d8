"""TensorFlow/Keras builders for the study's models and any keras.applications architecture (``model=keras``), with
seeded random weights, or a user's own Keras weights file (``model.weights``).

Keras' applications take NHWC images; the shared NCHW inputs are transposed, so every runtime sees
the same pixels. Parameter counts differ from torchvision's where the architectures do (Keras'
ResNet50 convolutions carry biases that torchvision's do not); the README lists them.
"""

from __future__ import annotations

import numpy as np

from green_mlflow.models.catalog import close_names
from green_mlflow.models.inputs import IMAGE_INPUT
from green_mlflow.models.weights import does_not_fit, one_line, planned_weights


def build_model(model: dict, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    architecture = model.get("architecture") or model["name"]
    shape = (model.get("image_size", 224), model.get("image_size", 224), 3)
    # classifier_activation=None: logits, like torchvision and Gluon (Keras adds a softmax by default)
    if architecture == "resnet50":
        return keras.applications.ResNet50(weights=None, input_shape=shape, classifier_activation=None)
    if architecture == "mobilenet_v2":
        return keras.applications.MobileNetV2(weights=None, input_shape=shape, classifier_activation=None)
    if architecture == "keras":
        return _with_weights(_application(model, shape), model)
    if architecture == "bert_base":
        from green_mlflow.models.keras_bert import build_keras_bert

        bert = build_keras_bert(model)
        seq = int(model["seq_len"])
        bert(*(np.zeros((1, seq), dtype=np.int64) for _ in range(3)))  # create the weights
        return bert
    raise ValueError(
        f"TensorFlow has no builder for model {architecture!r}; allowed: bert_base, keras, mobilenet_v2, resnet50"
    )


def _application(model: dict, shape: tuple[int, int, int]):
    """``model=keras``: a keras.applications architecture by its class name, without weights, giving logits."""
    import keras

    arch = model["arch"]
    allowed = sorted(n for n in dir(keras.applications) if n[:1].isupper())
    if arch not in allowed:
        close = close_names(arch, allowed) or allowed[:5]
        raise ValueError(
            f"model.arch={arch} is not in keras.applications of Keras {keras.__version__}; allowed: "
            f"{', '.join(close)}, … ({len(allowed)} in all)"
        )
    return getattr(keras.applications, arch)(weights=None, input_shape=shape, classifier_activation=None)


def _with_weights(keras_model, model: dict):
    """Load ``model.weights`` (a file of ``model.save_weights``) into ``keras_model``; WeightsError in one line."""
    if not model.get("weights"):
        return keras_model
    path = planned_weights(model)
    try:
        keras_model.load_weights(str(path))
    except Exception as err:
        raise does_not_fit(path, model["arch"], one_line(err)) from err
    return keras_model


def to_tf_layout(model: dict, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Positional inputs for the Keras model: NHWC for images, the three BERT tensors in order."""
    if model["kind"] == "image":
        return [np.ascontiguousarray(arrays[IMAGE_INPUT].transpose(0, 2, 3, 1))]
    return [arrays["input_ids"], arrays["attention_mask"], arrays["token_type_ids"]]


def parameter_count(keras_model) -> int:
    """Trainable parameters (BatchNorm moving statistics excluded, as torch's ``parameters()`` does)."""
    return int(sum(np.prod(w.shape) for w in keras_model.trainable_weights))
