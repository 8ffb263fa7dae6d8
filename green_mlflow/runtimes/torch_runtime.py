"""PyTorch runtime under ``torch.inference_mode``, in three modes.

``eager`` (default) runs the module as written; ``compile`` runs ``torch.compile(model)`` (TorchInductor;
compilation happens in the warm-up, never in a window); ``cuda_graph`` (provider=cuda) captures one
inference as a CUDA graph and replays it (see ``cuda_graph.py``).
"""

from __future__ import annotations

import numpy as np
import torch

from green_mlflow.contract import JobSpec
from green_mlflow.models.inputs import OUTPUT_NAMES, make_inputs
from green_mlflow.models.torch_factory import build_factory_model, output_tensors
from green_mlflow.models.torch_models import build_model, parameter_count
from green_mlflow.runtimes.cuda_graph import GraphReplay


class TorchSession:
    def __init__(self, spec: JobSpec):
        provider = spec.provider  # cpu or cuda (checked against the registry by load_session)
        if provider == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("provider=cuda asked for, but torch.cuda.is_available() is False on this host")
        self.mode = spec.mode
        self.device = torch.device(provider, spec.device_id if provider == "cuda" else None)
        self.batch_size = spec.batch_size
        self.model_cfg = spec.model
        if self.model_cfg["kind"] == "python":  # the user's factory: its module, its inputs' names and shapes
            built = build_factory_model(self.model_cfg, self.batch_size, spec.seed)
            self.model, tensors, keywords = built.module.to(self.device), built.inputs, built.keywords
        else:
            self.model = build_model(self.model_cfg, spec.seed).to(self.device)
            tensors = make_inputs(self.model_cfg, self.batch_size, spec.seed)
            # vision models take one positional tensor, a checkpoint its inputs in order; BertModel must get keywords
            keywords = self.model_cfg["kind"] not in ("image", "hf")
        tensors = {k: torch.as_tensor(v).to(self.device) for k, v in tensors.items()}
        self.args = () if keywords else tuple(tensors.values())
        self.kwargs = tensors if keywords else {}
        self._cuda = self.device.type == "cuda"
        self.queues_work = self._cuda  # CUDA kernels are queued on a stream; CPU ops return when done
        self._forward = torch.compile(self.model) if self.mode == "compile" else self.model
        self._graph = None
        if self.mode == "cuda_graph":
            with torch.inference_mode():
                self._graph = GraphReplay(lambda: self._forward(*self.args, **self.kwargs), torch.cuda)

    def run(self) -> None:
        if self._graph is not None:
            self._graph.replay()
            return
        with torch.inference_mode():
            self._forward(*self.args, **self.kwargs)

    def sync(self) -> None:
        if self._cuda:
            torch.cuda.synchronize(self.device)

    def outputs(self) -> dict[str, np.ndarray]:
        if self._graph is not None:
            self._graph.replay()
            self.sync()
            out = self._graph.output
        else:
            with torch.inference_mode():
                out = self._forward(*self.args, **self.kwargs)
        if self.model_cfg["kind"] == "python":
            return {name: t.detach().cpu().numpy() for name, t in output_tensors(out).items()}
        tensors = out if isinstance(out, tuple) else (out,)
        kind = self.model_cfg["kind"]
        names = self.model.output_names if kind == "hf" else OUTPUT_NAMES[kind]
        return {name: t.detach().cpu().numpy() for name, t in zip(names, tensors)}

    def info(self) -> dict:
        return {
            "parameter_count": parameter_count(self.model),
            "framework": "torch",
            "framework_version": torch.__version__,
            "device": str(self.device),
            "intra_op_threads": torch.get_num_threads(),
            "provider_in_use": self.device.type,
            "mode": self.mode,
        }


def load(spec: JobSpec) -> TorchSession:
    return TorchSession(spec)


def devices() -> dict:
    """What this environment's PyTorch can run on (for ``python -m green_mlflow.envs doctor``)."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return {
        "framework_version": torch.__version__,
        "gpu_count": count,
        "gpu_detail": f"CUDA {torch.version.cuda}: " + ", ".join(torch.cuda.get_device_name(i) for i in range(count))
        if count
        else f"torch.cuda.is_available() is False (build CUDA {torch.version.cuda or 'none: a CPU-only build'})",
    }
