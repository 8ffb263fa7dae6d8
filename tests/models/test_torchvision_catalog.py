"""The orchestrator's catalogue of torchvision architectures (``models/catalog.py``) is the torch environment's."""

from __future__ import annotations

import json
import subprocess

import pytest

from green_mlflow.models.catalog import TORCHVISION_ARCHS, TORCHVISION_IMAGE_SIZES, TORCHVISION_VERSION, image_size
from tests.helpers.project import require_env

pytestmark = pytest.mark.slow

INSTALLED = """
import json, torchvision
from torchvision.models import get_model_weights, list_models
names = list_models(module=torchvision.models)
sizes = {n: get_model_weights(n).DEFAULT.transforms.keywords.get("crop_size") for n in names}
print(json.dumps({"version": torchvision.__version__, "names": names, "sizes": sizes}))
"""


def test_the_catalogue_lists_the_installed_torchvision_architectures_and_their_documented_sizes():
    proc = subprocess.run([require_env("torch"), "-c", INSTALLED], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    installed = json.loads(proc.stdout)
    assert installed["version"].startswith(TORCHVISION_VERSION)
    assert tuple(installed["names"]) == TORCHVISION_ARCHS
    # a ViT built without weights takes 224 whatever its default weights were trained at (vit_h_14: 518)
    documented = {n: s for n, s in installed["sizes"].items() if s != 224 and not n.startswith("vit_")}
    assert documented == TORCHVISION_IMAGE_SIZES
    assert image_size("resnet18") == 224 and image_size("vit_h_14") == 224 and image_size("inception_v3") == 299
