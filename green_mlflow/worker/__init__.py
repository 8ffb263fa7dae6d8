"""The standalone measurement path: ``python -m green_mlflow.worker spec.json result.json``.

Runs inside a runtime's own environment and imports only that framework, numpy, psutil and NVML
bindings (DESIGN.md decision 2). ``launch`` is the orchestrator's side of the process boundary.
"""
