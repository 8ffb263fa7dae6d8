"""The malformed command lines of tests/test_bad_input.py: each a ``Bad`` (overrides, what the error must
say) drawn by hypothesis strategies, mixed into ``Case``s with valid overrides."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields, is_dataclass

from hydra._internal.utils import get_args_parser
from hydra.conf import HydraConf
from hypothesis import event
from hypothesis import strategies as st

from green_mlflow.config.schema import MODEL_KINDS, GreenConfig
from green_mlflow.registry import RUNTIMES
from tests.helpers.project import ROOT

MODES = {name: r.modes for name, r in RUNTIMES.items()}

HYDRA_FLAGS = [f for f in get_args_parser()._option_string_actions if f.startswith("--")]
CONF = ROOT / "conf"
GROUPS = ("runtime", "model", "provider", "mode", "measure", "tracking")  # the README's config groups
OPTIONS = {group: sorted(p.stem for p in (CONF / group).glob("*.yaml")) for group in GROUPS}
# a user's own model: not valid without model.path, arch, factory
OWN_MODELS = ("onnx_file", "torchvision", "keras", "gluon", "python", "hf")
PORT = "<closed-port>"  # replaced by a loopback port that refuses connections (fixture ``closed_port``)
SECRET = "s3cret-pw"  # a password inside tracking URIs: it must never be printed


@dataclass(frozen=True)
class Bad:
    """One defect in a command line: the overrides that make it and what the error must say about it."""

    overrides: tuple[str, ...]
    expect: tuple[str, ...]  # each must appear in the output
    kind: str

    @property
    def keys(self) -> set[str]:
        return {override.lstrip("+~").split("=", 1)[0] for override in self.overrides}


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]  # the command line, defects and valid overrides shuffled
    defects: tuple[Bad, ...]  # the error must name at least one of them


# -- strategies ---------------------------------------------------------------------------------------

NAMES = st.sampled_from(
    ["jax", "tpu", "alexnet", "turbo", "huge", "remote", "TORCH", "torch2", "resnet_50"]
) | st.from_regex(r"[a-z][a-z0-9_]{1,11}", fullmatch=True).filter(
    lambda s: s not in ("nan", "inf", "true", "false", "null")
)


@st.composite
def unknown_option(draw) -> Bad:
    group = draw(st.sampled_from(sorted(OPTIONS)))
    value = draw(NAMES.filter(lambda v: v not in OPTIONS[group]))
    expect = (f"Could not find '{group}/{value}'", f"Available options in '{group}'", OPTIONS[group][0])
    return Bad((f"{group}={value}",), expect, "unknown option")


def field_names(schema: type) -> set[str]:
    """Every key of a structured config, nested ones included."""
    names = set()
    for f in fields(schema):
        names.add(f.name)
        if f.default_factory is not MISSING and is_dataclass(f.default_factory):
            names |= field_names(f.default_factory)
    return names


KNOWN_KEYS = field_names(GreenConfig) | field_names(HydraConf)


@st.composite
def unknown_key(draw) -> Bad:
    section = draw(st.sampled_from(["", "runtime.", "model.", "provider.", "mode.", "measure.", "tracking.", "hydra."]))
    name = draw(
        st.sampled_from(["foo", "optimizer", "windowz", "batchsize", "Batch_size", "gpu", "password", "lr"])
        | NAMES.filter(lambda n: n not in KNOWN_KEYS)
    )
    key = section + name
    value = draw(st.sampled_from(["bar", "1", "true", "1.5", "null"]))
    return Bad((f"{key}={value}",), (f"Could not override '{key}'",), "unknown key")


@st.composite
def unknown_flag(draw) -> Bad:
    # argparse takes a prefix of a known flag (--he for --help) for that flag
    flag = "--" + draw(NAMES.filter(lambda n: not any(f.startswith("--" + n) for f in HYDRA_FLAGS)))
    return Bad((flag,), (f"unrecognized arguments: {flag}",), "unknown flag")


INT_KEYS = (
    "batch_size",
    "seed",
    "repetition",
    "runtime.opset",
    "model.image_size",
    "provider.device_id",
    "measure.windows",
    "measure.warmup_min_iterations",
    "measure.window_min_iterations",
    "measure.repetitions",
)
FLOAT_KEYS = ("measure.warmup_min_s", "measure.window_min_s", "measure.sample_interval_s", "measure.timeout_s")


@st.composite
def wrong_type(draw) -> Bad:
    if draw(st.booleans()):
        key = draw(st.sampled_from(INT_KEYS))
        value = draw(st.sampled_from(["big", "1.5", "2.0", "1e3", "12abc", "true", "[1,2]", "{a:1}", "", "null"]))
    else:
        key = draw(st.sampled_from(FLOAT_KEYS))
        value = draw(st.sampled_from(["fast", "true", "[1]", "{s:1}", "", "null", "5s"]))
    if (key, value) == ("model.image_size", "null"):  # null is allowed there: model=torchvision's documented size
        return Bad((f"{key}={value}",), ("model.image_size=null is only for model=torchvision",), "wrong type")
    return Bad((f"{key}={value}",), (f"Error merging override {key}=",), "wrong type")


@st.composite
def malformed(draw) -> Bad:
    key = draw(st.sampled_from(("batch_size", "seed", "measure.windows", "runtime", "model")))
    override = draw(st.sampled_from([f"{key}==1", f"{key}='1", f"{key}=1,2", f"{key}=(1", f"{key}=[1"]))
    # Hydra quotes the unparsable text, not always the key (an unclosed bracket: "no viable alternative at '[1'")
    return Bad((override,), (override.split("=", 1)[1],), "malformed override")


def _ints(low: int | None, high: int | None) -> st.SearchStrategy[str]:
    """Integers outside [low, high], as Hydra reads them from a command line."""
    outside = []
    if low is not None:
        outside.append(st.integers(max_value=low - 1, min_value=-(10**30)))
    if high is not None:
        outside.append(st.integers(min_value=high + 1, max_value=10**30))
    return st.one_of(outside).map(str)


def _floats(low: float | None, high: float | None, low_open: bool = False) -> st.SearchStrategy[str]:
    """Finite floats outside the range (``low_open``: ``low`` itself is outside too)."""
    outside = []
    if low is not None:
        outside.append(st.floats(max_value=low, exclude_max=not low_open, min_value=-1e12, allow_nan=False))
    if high is not None:
        outside.append(st.floats(min_value=high, exclude_min=True, max_value=1e30, allow_nan=False))
    return st.one_of(outside).map(repr)


# key -> (values outside what the plan allows, what its message says about them)
OUT_OF_RANGE = {
    "batch_size": (_ints(1, 4096), "allowed: 1 to 4096"),
    "measure.repetitions": (_ints(1, 1000), "allowed: 1 to 1000"),
    "repetition": (_ints(0, None) | _ints(None, 999), "(the sweeper sets it; raise measure.repetitions for more)"),
    "seed": (_ints(0, None), "must be zero or positive"),
    "provider.device_id": (_ints(0, None), "must be zero or positive"),
    "measure.windows": (_ints(1, None), "must be at least 1"),
    "measure.warmup_min_iterations": (_ints(1, None), "must be at least 1"),
    "measure.window_min_iterations": (_ints(1, None), "must be at least 1"),
    "measure.warmup_min_s": (_floats(0, None), "must be zero or positive"),
    "measure.window_min_s": (_floats(0, None), "must be zero or positive"),
    "measure.window_rest_s": (_floats(0, None), "must be zero or positive"),
    "measure.sample_interval_s": (_floats(0.01, 10), "allowed: 0.01 to 10"),
    "measure.idle_s": (_floats(0, 86400), "allowed: 0 to 86400 seconds"),
    "measure.cooldown_s": (_floats(0, 86400), "allowed: 0 to 86400 seconds"),
    "measure.cooldown_max_s": (_floats(0, 86400), "allowed: 0 to 86400 seconds"),
    "measure.timeout_s": (_floats(0, None, low_open=True), "must be positive"),
    "measure.cpu_tdp_w": (_floats(0, None, low_open=True), "must be positive, or null"),
    "measure.cooldown_within_c": (_floats(0, 50, low_open=True), "allowed: above 0 up to 50 °C"),
}


@st.composite
def out_of_range(draw) -> Bad:
    key = draw(st.sampled_from(sorted(OUT_OF_RANGE)))
    values, says = OUT_OF_RANGE[key]
    return Bad((f"{key}={draw(values)}",), (f"error: {key}=", says), "out of range")


@st.composite
def invalid_combination(draw) -> Bad:
    runtime = draw(st.sampled_from(sorted(MODES)))
    others = [r for r in MODES if r != "onnx"]
    choice = draw(st.sampled_from(range(7)))
    if choice == 0:
        runtime = draw(st.sampled_from(others))
        return Bad(
            (f"runtime={runtime}", "provider=tensorrt"),
            (f"provider=tensorrt is not available with runtime={runtime}; allowed: cpu, cuda",),
            "invalid combination",
        )
    if choice == 1:
        mode = draw(st.sampled_from(sorted({m for ms in MODES.values() for m in ms} - set(MODES[runtime]))))
        return Bad(
            (f"runtime={runtime}", f"mode={mode}"),
            (f"mode={mode} is not available with runtime={runtime}; allowed: {', '.join(MODES[runtime])}",),
            "invalid combination",
        )
    if choice == 2:
        overrides = ("runtime=torch", "mode=cuda_graph") + draw(st.sampled_from([(), ("provider=cpu",)]))
        expect = ("provider=cpu is not available with runtime=torch mode=cuda_graph; allowed: cuda",)
        return Bad(overrides, expect, "invalid combination")
    if choice == 3:
        runtime = draw(st.sampled_from(others))
        source = draw(st.sampled_from([*MODES, "jax"]))
        expect = ("runtime.source is only for runtime=onnx", f"not runtime={runtime}")
        return Bad((f"runtime={runtime}", f"runtime.source={source}"), expect, "invalid combination")
    if choice == 4:
        source = draw(st.sampled_from(["onnx", "jax", "paddle", "null"]))
        shown = "None" if source == "null" else source
        expect = (f"runtime.source={shown} is not available for runtime=onnx; allowed: torch, tf, mxnet",)
        return Bad(("runtime=onnx", f"runtime.source={source}"), expect, "invalid combination")
    if choice == 5:
        kind = draw(NAMES.filter(lambda k: k not in MODEL_KINDS))
        expect = (f"model.kind={kind} is not available for model=", f"allowed: {', '.join(MODEL_KINDS)}")
        return Bad((f"model.kind={kind}",), expect, "invalid combination")
    window = draw(st.floats(0, 1, exclude_max=True))
    return Bad(("provider=cuda", f"measure.window_min_s={window!r}"), ("too short for GPU energy",), "GPU window")


@st.composite
def unusable_store(draw) -> Bad:
    """Tracking stores that cannot be used: refused within seconds, naming the URI without its password."""
    choice = draw(st.sampled_from(range(5)))
    if choice == 0:
        folder = draw(st.sampled_from(["/proc", "/dev/null", "/proc/self/nope"]) | NAMES.map(lambda n: f"/proc/{n}"))
        uri = f"sqlite:///{folder}/mlflow.db"
        return Bad((f"tracking.uri={uri}",), (f"the SQLite store {uri} cannot be written",), "unwritable store")
    if choice == 1:
        uri = draw(st.sampled_from(["sqlite:////etc/hostname", "ftp://host/x", "file:///proc/nope/mlruns"]))
        return Bad((f"tracking.uri={uri}",), (f"{uri} ", "store"), "unusable store")
    if choice == 2:
        uri = f"http://{draw(NAMES)}.invalid:5000"
        return Bad((f"tracking.uri={uri}",), (f"the tracking server {uri} cannot be reached",), "unknown host")
    scheme = draw(st.sampled_from(["http", "https"]))
    user = draw(st.sampled_from(["", f"alice:{SECRET}@", f"{SECRET}@"]))
    path = draw(st.sampled_from(["", "/", "/mlflow"]))
    uri = f"{scheme}://{user}127.0.0.1:{PORT}{path}"
    shown = f"{scheme}://***@127.0.0.1:{PORT}{path}" if user else uri
    return Bad((f"tracking.uri={uri}",), (f"the tracking server {shown} cannot be reached",), "unreachable server")


KINDS = (
    invalid_combination,
    unusable_store,
    out_of_range,
    wrong_type,
    unknown_key,
    unknown_option,
    malformed,
    unknown_flag,
)


def bad_input() -> st.SearchStrategy[Bad]:
    """One defect of any kind."""
    return st.sampled_from(KINDS).flatmap(lambda kind: kind())


# valid overrides mixed in: alone they would start a measurement, so every case also has a defect
VALID = {
    "runtime": st.sampled_from(OPTIONS["runtime"]),
    "model": st.sampled_from([m for m in OPTIONS["model"] if m not in OWN_MODELS]),
    "measure": st.sampled_from(OPTIONS["measure"]),
    "provider": st.just("cpu"),
    "mode": st.just("default"),
    "batch_size": st.integers(1, 4096).map(str),
    "seed": st.integers(0, 2**31).map(str),
    "runtime.opset": st.integers(13, 17).map(str),
    "measure.windows": st.integers(1, 20).map(str),
    "measure.idle_s": st.integers(0, 86400).map(str),
    "tracking.experiment_name": st.text("abcdefghijklmnopqrstuvwxyz_-", min_size=1, max_size=16),
}


@st.composite
def cases(draw) -> Case:
    defects = draw(
        st.lists(bad_input(), min_size=1, max_size=2).filter(lambda ds: len(ds) == 1 or not (ds[0].keys & ds[1].keys))
    )
    taken = set().union(*(d.keys for d in defects))
    keys = draw(st.sets(st.sampled_from(sorted(set(VALID) - taken)), max_size=5))
    valid = [f"{key}={draw(VALID[key])}" for key in sorted(keys)]
    args = draw(st.permutations([o for d in defects for o in d.overrides] + valid))
    for defect in defects:
        event(defect.kind)
    return Case(tuple(args), tuple(defects))


def case(*overrides: str, expect: tuple[str, ...], valid: tuple[str, ...] = ()) -> Case:
    return Case((*overrides, *valid), (Bad(overrides, expect, "example"),))
