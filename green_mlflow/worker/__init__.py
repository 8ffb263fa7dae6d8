"""The standalone measurement path: ``python -m green_mlflow.worker spec.json result.json``.

Runs inside a runtime's own environment and imports only that framework, numpy, psutil and NVML
bindings (docs/design.md decision 2). The orchestrator starts it through ``green_mlflow.launch``.
"""
