"""TensorFlow runtime. Modes: ``eager`` (op by op), ``function`` (tf.function graph; the default),
``xla`` (tf.function with ``jit_compile=True``)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from green_mlflow.contract import JobSpec
from green_mlflow.models.inputs import OUTPUT_NAMES, make_inputs
from green_mlflow.models.tf_models import build_model, parameter_count, to_tf_layout


class TfSession:
    def __init__(self, spec: JobSpec):
        provider = spec.provider  # cpu or cuda (checked against the registry by load_session)
        gpus = tf.config.list_physical_devices("GPU")
        if provider == "cuda" and not gpus:
            raise RuntimeError("provider=cuda asked for, but TensorFlow sees no GPU (is the CUDA build installed?)")
        self.device = f"/GPU:{spec.device_id}" if provider == "cuda" else "/CPU:0"
        self.batch_size = spec.batch_size
        self.model_cfg = spec.model
        with tf.device(self.device):
            self.model = build_model(self.model_cfg, spec.seed)
            arrays = to_tf_layout(self.model_cfg, make_inputs(self.model_cfg, self.batch_size, spec.seed))
            self.inputs = [tf.constant(a) for a in arrays]

        def forward(*xs):
            return self.model(*xs, training=False) if len(xs) > 1 else self.model(xs[0], training=False)

        mode = spec.mode
        self.call = forward if mode == "eager" else tf.function(forward, jit_compile=(mode == "xla"))
        self._gpu = provider == "cuda"
        self.queues_work = self._gpu  # eager ops on a GPU are queued; on the CPU they return when done

    def run(self) -> None:
        with tf.device(self.device):
            self.call(*self.inputs)

    def sync(self) -> None:
        if self._gpu:
            tf.test.experimental.sync_devices()

    def outputs(self) -> dict[str, np.ndarray]:
        with tf.device(self.device):
            out = self.call(*self.inputs)
        tensors = out if isinstance(out, (tuple, list)) else (out,)
        return {n: t.numpy() for n, t in zip(OUTPUT_NAMES[self.model_cfg["kind"]], tensors)}

    def info(self) -> dict:
        return {
            "parameter_count": parameter_count(self.model),
            "framework": "tensorflow",
            "framework_version": tf.__version__,
            "device": self.device,
            "provider_in_use": self.device,
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        }


def load(spec: JobSpec) -> TfSession:
    return TfSession(spec)


def devices() -> dict:
    """What this environment's TensorFlow can run on (for ``python -m green_mlflow.envs doctor``)."""
    gpus = tf.config.list_physical_devices("GPU")
    built = tf.sysconfig.get_build_info().get("cuda_version")
    return {
        "framework_version": tf.__version__,
        "gpu_count": len(gpus),
        "gpu_detail": ", ".join(g.name for g in gpus)
        if gpus
        else f"TensorFlow lists no GPU (built with CUDA {built or 'none: a CPU-only build'})",
    }
