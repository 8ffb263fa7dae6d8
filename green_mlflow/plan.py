"""Validate a composed config and turn it into a job: what runs where, decided before anything runs.

Hydra rejects unknown groups, options, keys and wrong types; each group's own rules are its schema's
(``config/schema.py``). This module checks what ties groups together — which providers and modes a
runtime offers (``registry``), a GPU's minimum window, the repetition index, a GPU provider on a host
that has a GPU — and says what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

from green_mlflow.allocator import DEFAULT as DEFAULT_ALLOCATOR
from green_mlflow.allocator import LIBRARIES, AllocatorError, find_library
from green_mlflow.config.schema import GreenConfig, ModelConfig, missing_own_model_field
from green_mlflow.contract import JobSpec, MeasureSettings
from green_mlflow.convert import sha256_of
from green_mlflow.convert.onnx_file import ELEM_TYPES, onnx_file_problem, read_header
from green_mlflow.meters.nvml import visible_gpus
from green_mlflow.models.catalog import ZOOS
from green_mlflow.models.hf_checkpoint import checkpoint_inputs, model_files, read_checkpoint
from green_mlflow.models.inputs import resolve_shapes
from green_mlflow.registry import Runtime, runtime

MIN_GPU_WINDOW_S = 1.0  # docs/method.md rule 8: NVML's counter is not trustworthy below this
# measure settings that say how many runs and what surrounds them, not how one run is measured
NOT_HASHED_MEASURE = ("repetitions", "idle_s")
# the own-model fields (README "Measure your own model"): left out of a job's model while unset, so that the
# study models' configuration hashes and ONNX cache keys are those of the stores made before they existed
OWN_MODEL_FIELDS = ("path", "dims", "arch", "factory", "weights")
# the kinds of own model built in PyTorch (as model=torchvision is): runtime=torch, or runtime=onnx exported from torch
TORCH_BUILT = ("python", "hf")
FRAMEWORKS = {"torch": "PyTorch", "tf": "TensorFlow", "mxnet": "MXNet"}
FILLABLE = tuple(ELEM_TYPES.values())


class PlanError(ValueError):
    """The configuration asks for something that cannot run; the message says what is allowed."""


@dataclass(frozen=True)
class Job:
    """Everything a job needs after validation; ``spec()`` is what the worker receives."""

    runtime: str
    source: str | None
    model: dict
    provider: str
    device_id: int
    mode: str
    batch_size: int
    seed: int
    opset: int
    measure: MeasureSettings
    python: str | None
    repetition: int = 0
    allocator: str = DEFAULT_ALLOCATOR  # the worker's memory allocator (green_mlflow/allocator.py)
    scenario: str = "latency"  # or throughput: synchronised at window edges only (docs/method.md rule 18)

    @property
    def entry(self) -> Runtime:
        return runtime(self.runtime)

    @property
    def env_name(self) -> str:
        """The managed environment this job's worker runs in."""
        return self.entry.envs[self.provider]

    @property
    def label(self) -> str:
        runtime = self.runtime
        if runtime == "onnx":
            runtime = f"onnx(from {self.source})" if self.source else "onnx(file)"
        model = Path(self.model["path"]).name if self.model["kind"] in ("onnx_file", "hf") else self.model["name"]
        label = f"{runtime} {model} bs={self.batch_size} {self.provider} {self.mode}"
        if self.allocator != DEFAULT_ALLOCATOR:
            label += f" alloc={self.allocator}"
        if self.scenario != "latency":
            label += f" {self.scenario}"
        return f"{label} rep={self.repetition}" if self.measure.repetitions > 1 else label

    def config_hash(self) -> str:
        """Hash of everything that defines one run's measurement: the same for every repetition of it."""
        payload = {k: v for k, v in asdict(self).items() if k not in ("python", "repetition")}
        payload["measure"] = {k: v for k, v in asdict(self.measure).items() if k not in NOT_HASHED_MEASURE}
        # settings added later stay out while at their defaults: the hashes of earlier stores still match
        if self.allocator == DEFAULT_ALLOCATOR:
            del payload["allocator"]
        if self.scenario == "latency":
            del payload["scenario"]
        if self.measure.target_ci_rel is None:
            del payload["measure"]["target_ci_rel"], payload["measure"]["max_windows"]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def spec(self, output_dir: str, **extra) -> JobSpec:
        """The worker's spec; ``extra``: ``onnx_path``, ``trt_cache_dir``, ``idle_temp_c``."""
        return JobSpec(
            runtime=self.runtime,
            source=self.source,
            model=self.model,
            provider=self.provider,
            device_id=self.device_id,
            mode=self.mode,
            batch_size=self.batch_size,
            seed=self.seed,
            repetition=self.repetition,
            measure=self.measure,
            output_dir=output_dir,
            scenario=self.scenario,
            **extra,
        )


def _typed(cfg: DictConfig) -> GreenConfig:
    """The config as schema objects: every value resolves, every key is the schema's (``+key=value``
    passes Hydra's own check), and each group's own rules hold (their ``__post_init__``)."""
    model = cfg.get("model")
    if isinstance(model, DictConfig):
        missing = missing_own_model_field(OmegaConf.to_container(model, resolve=False))
        if missing:
            raise PlanError(missing)
    try:
        merged = OmegaConf.merge(
            OmegaConf.structured(GreenConfig), OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
        )
        return OmegaConf.to_object(merged)
    except ConfigKeyError as err:
        raise PlanError(
            f"{err.full_key} is not a setting of green_mlflow; `python -m green_mlflow --cfg job` lists them"
        ) from err
    except OmegaConfBaseException as err:
        if isinstance(err.__cause__, ValueError) and not isinstance(err.__cause__, OmegaConfBaseException):
            raise PlanError(str(err.__cause__)) from err
        raise PlanError(f"{err.full_key} has no usable value: {err.msg}") from err
    except ValueError as err:
        raise PlanError(str(err)) from err


def _check_gpu(provider: str, device_id: int) -> None:
    """A GPU provider needs a GPU this host can see: refused here, in milliseconds, before an idle baseline is
    measured or a GPU environment of several GB is installed for nothing."""
    if provider == "cpu":
        return
    names, why = visible_gpus()
    if not names:
        raise PlanError(
            f"provider={provider} needs an NVIDIA GPU, but this host shows none ({why}); use provider=cpu here, "
            "or run on a GPU host (`python -m green_mlflow.envs doctor` tells what can run where)"
        )
    if device_id >= len(names):
        raise PlanError(
            f"provider.device_id={device_id} is not a GPU of this host; allowed: 0 to {len(names) - 1} "
            f"({', '.join(names)})"
        )


def _check_graph_inputs(path: Path, model: ModelConfig, batch_size: int) -> None:
    """The file's inputs can be fed: each of an element type that can be filled, each dimension sized (the
    worker sizes them the same way from ONNX Runtime's view of the graph)."""
    inputs = read_header(path).inputs
    odd = [f"{name} ({dtype})" for name, dtype, _ in inputs if dtype not in FILLABLE]
    if odd:
        raise ValueError(
            f"model.path={path} has inputs that cannot be filled with synthetic data: {', '.join(odd)}; "
            f"allowed: tensors of {', '.join(FILLABLE)}"
        )
    resolve_shapes([(name, shape) for name, _, shape in inputs], batch_size, model.dims)


def find_module(name: str) -> tuple[Path, Path]:
    """Where the worker will import module ``name`` from: (the directory to put on its path, the module's file),
    searched in the current directory, then ``$PYTHONPATH``; ValueError if it is in neither."""
    roots = [Path.cwd(), *(Path(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
    parts = name.split(".")
    for root in roots:
        for candidate in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                return root.absolute(), candidate
    raise ValueError(
        f"model.factory: no module {name} in the current directory ({Path.cwd()}) or PYTHONPATH; allowed: a module "
        "there, or a runtime.python interpreter that can import it (runtime=torch)"
    )


def checkpoint_sha256(folder: Path) -> str:
    """``model=hf``: one sha256 over the sha256 of ``config.json`` and of each weight file (by name). Full content
    hashes, not size and mtime: a checkpoint copied, re-saved or fine-tuned in place is another configuration (a
    BERT-base checkpoint takes about a second)."""
    listing = "".join(f"{p.name} {sha256_of(p)}\n" for p in model_files(folder))
    return hashlib.sha256(listing.encode()).hexdigest()


def _weights_file(model: ModelConfig) -> dict:
    """``model.weights``: the weights file, found and hashed (ValueError in one line when it is not a file)."""
    path = Path(model.weights).expanduser().absolute()
    if not path.is_file():
        zoo = ZOOS.get(model.architecture or "", ZOOS["torchvision"])  # model=python: a PyTorch state dict too
        raise ValueError(
            f"model.weights={model.weights} {'is not a file' if path.exists() else 'does not exist'}; allowed: "
            f"{zoo.weights}"
        )
    return {"weights": str(path), "weights_sha256": sha256_of(path)}  # the same path may hold other weights later


def model_dict(
    model: ModelConfig, runtime_name: str, source: str | None, python: str | None, batch_size: int
) -> tuple[dict, str | None]:
    """The job's model and its ONNX source: the study's models as they are; the user's own models checked
    against the runtime (ValueError saying what is allowed), their file found and hashed, their size resolved.

    ``model=onnx_file`` has no source framework (None). A zoo's architecture is built in its framework
    (torchvision in PyTorch, keras in TensorFlow, gluon in MXNet), a ``python`` factory in PyTorch, and ``model=hf``
    loaded there: that framework's runtime, or ``runtime=onnx`` exported from it.
    """
    values = asdict(model)
    for key in OWN_MODEL_FIELDS:
        if values[key] in (None, {}):
            del values[key]
    if model.kind == "onnx_file":
        if runtime_name != "onnx":
            raise ValueError(
                f"model=onnx_file is not available with runtime={runtime_name}: an ONNX file has no source "
                "framework to run it in; allowed: runtime=onnx"
            )
        path = Path(model.path).expanduser().absolute()
        problem = onnx_file_problem(path)
        if problem:
            raise ValueError(problem)
        _check_graph_inputs(path, model, batch_size)
        values.update(path=str(path), sha256=sha256_of(path))  # the same path may hold another file later
        return values, None
    zoo = ZOOS.get(model.architecture or "")
    if model.kind in TORCH_BUILT or zoo:
        option, framework = (zoo.option, zoo.runtime) if zoo else (model.kind, "torch")
        if runtime_name not in (framework, "onnx") or (runtime_name == "onnx" and source != framework):
            shown = f"runtime=onnx runtime.source={source}" if runtime_name == "onnx" else f"runtime={runtime_name}"
            raise ValueError(
                f"model={option} is not available with {shown}: it is built in {FRAMEWORKS[framework]}; allowed: "
                f"runtime={framework}, runtime=onnx runtime.source={framework}"
            )
    if model.kind == "hf":
        folder = Path(model.path).expanduser().absolute()
        config = read_checkpoint(folder)
        values.update(checkpoint_inputs(folder, config, model.seq_len, model.image_size))
        values.update(path=str(folder), sha256=checkpoint_sha256(folder))
    if model.weights:
        values.update(_weights_file(model))
    if model.kind == "python" and not (python and runtime_name == "torch"):
        found = find_module(model.factory.partition(":")[0])
        values.update(factory_dir=str(found[0]), sha256=sha256_of(found[1]))  # its code is part of the model
    if zoo:
        # an interpreter of the user's own may have a newer library: its worker says if it lacks the architecture
        if model.arch not in zoo.archs and not (python and runtime_name == zoo.runtime):
            raise ValueError(zoo.unknown_arch(model.arch))
        if model.image_size is None:
            values["image_size"] = zoo.image_size(model.arch)
    return values, source


def plan_job(cfg: DictConfig) -> Job:
    """Validate ``cfg`` and return the job, or raise PlanError explaining the problem.

    Each group's own rules are the schema's; here only the rules that tie groups together.
    """
    typed = _typed(cfg)
    entry = runtime(typed.runtime.name)
    mode = entry.default_mode if typed.mode.name == "default" else typed.mode.name
    try:
        entry.check(typed.provider.name, mode)
    except ValueError as err:
        raise PlanError(str(err)) from err
    measure = MeasureSettings(**asdict(typed.measure))
    if not 0 <= typed.repetition < measure.repetitions:
        raise PlanError(
            f"repetition={typed.repetition} is out of range; allowed: 0 to {measure.repetitions - 1} "
            "(the sweeper sets it; raise measure.repetitions for more)"
        )
    if typed.provider.name != "cpu" and measure.window_min_s < MIN_GPU_WINDOW_S:
        raise PlanError(
            f"measure.window_min_s={measure.window_min_s} is too short for GPU energy: NVML's counter needs "
            f"windows of at least {MIN_GPU_WINDOW_S:g} s (5 s recommended, measure=default)"
        )
    _check_gpu(typed.provider.name, typed.provider.device_id)
    source = typed.runtime.source if entry.name == "onnx" else None
    try:
        model, own_source = model_dict(typed.model, entry.name, source, typed.runtime.python, typed.batch_size)
    except ValueError as err:
        raise PlanError(str(err)) from err
    return Job(
        runtime=entry.name,
        source=own_source,
        model=model,
        provider=typed.provider.name,
        device_id=typed.provider.device_id,
        mode=mode,
        batch_size=typed.batch_size,
        seed=typed.seed,
        opset=typed.runtime.opset,
        measure=measure,
        python=typed.runtime.python,
        repetition=typed.repetition,
        allocator=_allocator(typed.allocator.name),
        scenario=typed.scenario.name,
    )


def _allocator(name: str) -> str:
    """The allocator asked for, refused here when its library is not on this host (nothing is measured)."""
    if name in LIBRARIES:
        try:
            find_library(name)
        except AllocatorError as err:
            raise PlanError(str(err)) from None
    return name
