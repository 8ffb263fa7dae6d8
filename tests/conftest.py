"""Shared fixtures: real configs composed from conf/, a real SQLite MLflow store; the ``gpu`` marker.

Helpers that are not fixtures live in ``tests/helpers/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from green_mlflow.config import register_schemas
from green_mlflow.meters.nvml import visible_gpus
from tests.helpers.project import CONF


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` need an NVIDIA GPU: skipped, saying why, on a host without one (not failed)."""
    marked = [item for item in items if item.get_closest_marker("gpu")]
    if not marked:
        return
    gpus, why = visible_gpus()
    if gpus:
        return
    skip = pytest.mark.skip(reason=f"needs an NVIDIA GPU: {why}")
    for item in marked:
        item.add_marker(skip)


@pytest.fixture
def compose_config():
    """Compose the real config tree with overrides, as ``python -m green_mlflow`` would."""
    register_schemas()

    def _compose(overrides: list[str] | None = None):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose(config_name="config", overrides=overrides or [])

    yield _compose
    GlobalHydra.instance().clear()


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
