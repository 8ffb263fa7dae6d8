"""green_mlflow: energy and time of deep-learning inference per runtime, tracked in MLflow.

The package is split along the data flow: ``config`` → ``plan`` → ``convert`` → ``worker``
(``runtimes``, ``models``, ``meters``) → ``tracking``. Everything under ``worker``, ``runtimes``,
``models``, ``meters`` and ``convert``'s in-environment scripts imports neither MLflow nor Hydra,
so it runs standalone in a runtime's own environment (docs/design.md decision 2).
"""

__version__ = "0.1.0"
