"""The regression gate: did a candidate (a new model version, a framework upgrade, another ONNX optimisation
level) make inference costlier than the baseline? ``python -m green_mlflow.gate BASELINE CANDIDATE``."""
