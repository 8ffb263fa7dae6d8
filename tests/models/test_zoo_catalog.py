"""The orchestrator's catalogue of the model zoos (``models/catalog.py``) is what each runtime environment installs:
the same architectures, and each one's documented input size."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from green_mlflow.models.catalog import (
    GLUON_ARCHS,
    KERAS_ARCHS,
    KERAS_IMAGE_SIZES,
    TORCHVISION_ARCHS,
    TORCHVISION_IMAGE_SIZES,
    TORCHVISION_VERSION,
    ZOOS,
)
from tests.helpers.project import ROOT, require_env

pytestmark = pytest.mark.slow

TORCHVISION = """
import json, torchvision
from torchvision.models import get_model_weights, list_models
names = list_models(module=torchvision.models)
sizes = {n: get_model_weights(n).DEFAULT.transforms.keywords.get("crop_size") for n in names}
print(json.dumps({"version": torchvision.__version__, "names": names, "sizes": sizes}))
"""

# Each application asks imagenet_utils.obtain_input_shape for its default size before it builds a layer: stop it
# there. One that does not ask (MobileNetV3) is built and its input read.
KERAS = """
import json, keras
from keras.src.applications import imagenet_utils
class Asked(Exception):
    pass
def asked(input_shape, default_size, *args, **kwargs):
    raise Asked(default_size)
imagenet_utils.obtain_input_shape = asked
sizes = {}
for name in sorted(n for n in dir(keras.applications) if n[:1].isupper()):
    try:
        sizes[name] = getattr(keras.applications, name)(weights=None).input_shape[1] or 224
    except Asked as size:
        sizes[name] = size.args[0]
print(json.dumps(sizes))
"""

GLUON = """
import json
from green_mlflow.models.mxnet_shim import import_mxnet
mx = import_mxnet()
from mxnet.gluon.model_zoo import vision
try:
    vision.get_model("no such net")
except ValueError as err:
    names = str(err).split("Available options are")[1].split()
net = vision.get_model("inceptionv3")
net.initialize()
print(json.dumps({"names": names, "inceptionv3_at_299": net(mx.nd.zeros((1, 3, 299, 299))).shape}))
"""


def _installed(runtime: str, code: str):
    proc = subprocess.run(
        [require_env(runtime), "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_catalogue_lists_the_installed_torchvision_architectures_and_their_documented_sizes():
    installed = _installed("torch", TORCHVISION)
    assert installed["version"].startswith(TORCHVISION_VERSION)
    assert tuple(installed["names"]) == TORCHVISION_ARCHS
    # a ViT built without weights takes 224 whatever its default weights were trained at (vit_h_14: 518)
    documented = {n: s for n, s in installed["sizes"].items() if s != 224 and not n.startswith("vit_")}
    assert documented == TORCHVISION_IMAGE_SIZES
    zoo = ZOOS["torchvision"]
    assert zoo.image_size("resnet18") == 224 and zoo.image_size("vit_h_14") == 224
    assert zoo.image_size("inception_v3") == 299


def test_the_catalogue_lists_the_installed_keras_applications_and_their_default_sizes():
    sizes = _installed("tf", KERAS)
    assert tuple(sizes) == KERAS_ARCHS
    assert {n: s for n, s in sizes.items() if s != 224} == KERAS_IMAGE_SIZES
    assert ZOOS["keras"].image_size("Xception") == 299 and ZOOS["keras"].image_size("MobileNetV3Small") == 224


def test_the_catalogue_lists_the_installed_gluon_model_zoo():
    installed = _installed("mxnet", GLUON)
    assert tuple(installed["names"]) == GLUON_ARCHS
    assert ZOOS["gluon"].image_size("inceptionv3") == 299 and installed["inceptionv3_at_299"] == [1, 1000]
    assert ZOOS["gluon"].image_size("resnet18_v1") == 224
