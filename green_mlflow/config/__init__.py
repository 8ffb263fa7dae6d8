"""Structured (dataclass) schemas for the Hydra config groups under ``conf/``."""

from green_mlflow.config.schema import register_schemas

__all__ = ["register_schemas"]
