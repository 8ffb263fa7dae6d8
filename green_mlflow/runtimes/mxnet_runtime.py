"""MXNet runtime. Modes: ``imperative`` (NDArray op by op) and ``hybrid`` (the default: hybridized
with ``static_alloc`` and ``static_shape``, MXNet's cached static graph)."""

from __future__ import annotations

import numpy as np

from green_mlflow.contract import JobSpec
from green_mlflow.meters.nvml import compute_capability
from green_mlflow.models.inputs import OUTPUT_NAMES, make_inputs
from green_mlflow.models.mxnet_shim import import_mxnet

mx = import_mxnet()
from green_mlflow.models.mxnet_models import build_model, parameter_count  # noqa: E402

# mxnet-cu112 1.9.1 (the last build) carries machine code for sm_50 to sm_86 and no PTX to compile for newer
# architectures. Code for 8.6 also runs on 8.9 (same major version), but a Hopper GPU (9.0) or newer finds
# no kernel for MXNet's own operators ("no kernel image is available").
MAX_COMPUTE_MAJOR = 8


def check_compute_capability(capability: tuple[int, int] | None) -> None:
    """Refuse a GPU newer than MXNet's last build supports, before a model is built on it."""
    if capability is not None and capability[0] > MAX_COMPUTE_MAJOR:
        raise RuntimeError(
            f"MXNet 1.9.1 (mxnet-cu112, its last build) has GPU kernels up to compute capability 8.x; this GPU is "
            f"{capability[0]}.{capability[1]}, so MXNet cannot run on it. Measure MXNet's model on this GPU as "
            "runtime=onnx runtime.source=mxnet, or MXNet on an Ampere or older GPU"
        )


class MxnetSession:
    def __init__(self, spec: JobSpec):
        provider = spec.provider  # cpu or cuda (checked against the registry by load_session)
        if provider == "cuda":
            if mx.context.num_gpus() == 0:
                raise RuntimeError("provider=cuda asked for, but MXNet sees no GPU (install mxnet-cu112 on a GPU host)")
            check_compute_capability(compute_capability(spec.device_id))
            self.ctx = mx.gpu(spec.device_id)
        else:
            self.ctx = mx.cpu()
        self.batch_size = spec.batch_size
        self.queues_work = True  # MXNet's engine runs operators asynchronously on CPU and GPU alike
        self.model_cfg = spec.model
        self.net = build_model(self.model_cfg, spec.seed)
        self.net.collect_params().reset_ctx(self.ctx)
        if spec.mode == "hybrid":
            self.net.hybridize(static_alloc=True, static_shape=True)
        arrays = make_inputs(self.model_cfg, self.batch_size, spec.seed)
        self.inputs = [mx.nd.array(a, ctx=self.ctx, dtype=a.dtype) for a in arrays.values()]
        self.net(*self.inputs)  # Gluon defers parameter shapes (and so initialisation) to the first call
        mx.nd.waitall()

    def run(self) -> None:
        self.net(*self.inputs)

    def sync(self) -> None:
        mx.nd.waitall()

    def outputs(self) -> dict[str, np.ndarray]:
        out = self.net(*self.inputs)
        tensors = out if isinstance(out, (tuple, list)) else (out,)
        return {n: t.asnumpy() for n, t in zip(OUTPUT_NAMES[self.model_cfg["kind"]], tensors)}

    def info(self) -> dict:
        return {
            "parameter_count": parameter_count(self.net),
            "framework": "mxnet",
            "framework_version": mx.__version__,
            "device": str(self.ctx),
            "provider_in_use": str(self.ctx),
        }


def load(spec: JobSpec) -> MxnetSession:
    return MxnetSession(spec)


def devices() -> dict:
    """What this environment's MXNet can run on (for ``python -m green_mlflow.envs doctor``)."""
    count = mx.context.num_gpus()
    if not count:
        detail = "MXNet sees no GPU (the mxnet package is CPU-only; mxnet-cu112 needs CUDA 11 and cuDNN 8 libraries)"
        return {"framework_version": mx.__version__, "gpu_count": 0, "gpu_detail": detail}
    try:
        check_compute_capability(compute_capability(0))
    except RuntimeError as err:
        return {"framework_version": mx.__version__, "gpu_count": 0, "gpu_detail": str(err)}
    return {"framework_version": mx.__version__, "gpu_count": count, "gpu_detail": f"{count} GPU(s) visible to MXNet"}
