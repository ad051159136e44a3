"""Experiment files made from other experiment files: families and the small profile.

A **family** (``experiments/study/<family>.toml``) derives several experiments from one base
experiment (``experiments/<base>.toml``), so that they differ from it, and from each other, only
in what the family says:

* ``[[member]]`` entries: one experiment each (``<prefix>_<suffix>``), e.g. the sensitivity
  variants, one assumption changed at a time;
* ``[[axis]]`` entries: the experiments are the Cartesian product of the axes' levels
  (``<prefix>_<label>_<label>...``), e.g. the trade-off frontier's grid of contribution-rate
  caps x retirement-age caps x reserve use.

Changes are dotted experiment keys (``set = {"optimization.contribution.max_rate" = 0.18}``)
and calibration overrides (``overrides = {"finances.reserve.real_return.value" = 0.02}``,
merged into the experiment's ``[overrides]``); ``[set]`` and ``[overrides]`` at the top of the
family apply to every member. Members are written as ordinary, complete experiment files
``experiments/<name>.toml`` (committed, marked as generated, validated when written) so that
``make experiment EXP=<name>`` and the Make dependencies treat them like any other; a file is
rewritten only when its text changes, so Make re-runs only what changed.

The **small profile** (``SIZE=small``, the CI configuration) copies every experiment of the
study with fewer Monte Carlo and optimization paths (:data:`SMALL`) and each grid axis cut to
its first and last level, into ``results/small/experiments/``.

This module writes experiment files only; it never runs a model.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from models.config import ConfigError, Experiment

#: First line of every generated experiment file (how stale generated files are recognised).
GENERATED_MARK = "# GENERATED"
#: Families live here, relative to the project root.
FAMILY_DIR = Path("experiments") / "study"
EXPERIMENT_DIR = Path("experiments")

#: The small profile: caps on the number of paths and the chunk size.
SMALL = {"demography_paths": 40, "optimization_paths": 12, "chunk_size": 40}
#: The small profile's out-of-sample evaluation: fresh paths as many as optimized (at least
#: 12) and two replications (the fewest that give the gap's interval), in a Monte Carlo
#: experiment of at most :data:`SMALL_REPLICATION_PATHS` paths each (a deterministic one
#: replicates on one path, as in the study).
SMALL_EVALUATION = {"out_of_sample_factor": 1, "min_out_of_sample_paths": 12,
                    "replications": 2}
SMALL_REPLICATION_PATHS = 6
#: The small profile's parameter uncertainty: at most this many parameter draws on the median
#: path (``uncertainty.median_draws``; the study has 100) and distinct parameter sets over the
#: Monte Carlo paths (``uncertainty.parameter_sets``, about 0.1 s of pension blocks a set;
#: consecutive paths share a set).
SMALL_UNCERTAINTY = {"median_draws": 20, "parameter_sets": 10}
#: The small profile's efficient frontier (``optimization.frontier``, when enabled): the fewest
#: ε levels (2 x 2 per delay candidate) and the first and last of the delay scales.
SMALL_FRONTIER_LEVELS = 2


# ---------------------------------------------------------------------------- TOML writing
_BARE_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if any(c in text for c in ".eEn") else text + ".0"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):  # one inline table a line
            return "[\n" + "".join(f"  {_value(v)},\n" for v in value) + "]"
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def dumps_toml(data: dict, _prefix: tuple[str, ...] = ()) -> str:
    """TOML text of nested dicts of scalars and lists (enough for experiment files)."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for k, v in data.items():
        if isinstance(v, dict):
            path = _prefix + (k,)
            body = dumps_toml(v, path)
            lines += ["", f"[{'.'.join(_key(p) for p in path)}]"] + ([body] if body else [])
    return "\n".join(line for line in lines).strip("\n")


# ---------------------------------------------------------------------------- helpers
def set_dotted(raw: dict, key: str, value: Any) -> None:
    """Set ``raw[a][b][c] = value`` for ``key = "a.b.c"``, creating tables as needed."""
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise KeyError(key)
    node[parts[-1]] = copy.deepcopy(value)


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` unless the file already holds it (keeps its mtime for Make)."""
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)
    return True


def _read(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None


def _validate(raw: dict, where: str) -> Experiment:
    try:
        return Experiment.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{where}: the experiment it makes is invalid at key '{key}': "
                          f"{first['msg']} (input {first.get('input')!r})") from None


# ---------------------------------------------------------------------------- families
@dataclass(frozen=True)
class Member:
    """One experiment of a family: its name and its complete experiment dict."""

    name: str
    raw: dict
    family: Path


def _apply(raw: dict, changes: dict, overrides: dict, where: str) -> None:
    for key, value in changes.items():
        try:
            set_dotted(raw, key, value)
        except KeyError:
            raise ConfigError(f"{where}: key '{key}' does not name an experiment table") from None
    if overrides:
        raw.setdefault("overrides", {}).update(copy.deepcopy(overrides))


def family_members(spec_path: Path, root: Path, small: bool = False) -> list[Member]:
    """The experiments a family file describes (see the module docstring).

    With ``small`` every grid axis keeps only its first and last level.
    """
    spec = _read(spec_path)
    where = str(spec_path)
    allowed = {"base", "prefix", "description", "set", "overrides", "member", "axis"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; expected {sorted(allowed)}")
    for key in ("base", "prefix"):
        if key not in spec:
            raise ConfigError(f"{where}: missing key '{key}'")
    if ("member" in spec) == ("axis" in spec):
        raise ConfigError(f"{where}: give either [[member]] entries or [[axis]] entries")
    base_raw = _read(root / EXPERIMENT_DIR / f"{spec['base']}.toml")
    common = spec.get("set", {})
    common_overrides = spec.get("overrides", {})
    lead = spec.get("description", "")

    variants: list[tuple[str, str, dict, dict]] = []  # name suffix, label, set, overrides
    if "member" in spec:
        for i, m in enumerate(spec["member"]):
            if "suffix" not in m:
                raise ConfigError(f"{where}: member {i + 1} has no 'suffix'")
            variants.append((m["suffix"], m.get("label", m["suffix"]), m.get("set", {}),
                             m.get("overrides", {})))
    else:
        axes = []
        for i, axis in enumerate(spec["axis"]):
            levels = axis.get("levels", [])
            if not levels:
                raise ConfigError(f"{where}: axis {i + 1} has no levels")
            if small and len(levels) > 2:
                levels = [levels[0], levels[-1]]
            axes.append([(lv["label"], f"{axis.get('title', axis.get('name', ''))}: "
                          f"{lv.get('title', lv['label'])}", lv.get("set", {}),
                          lv.get("overrides", {})) for lv in levels])
        for combo in itertools.product(*axes):
            changes, overrides = {}, {}
            for _, _, s, o in combo:
                changes.update(s)
                overrides.update(o)
            variants.append(("_".join(c[0] for c in combo), "; ".join(c[1] for c in combo),
                             changes, overrides))

    members = []
    for suffix, label, changes, overrides in variants:
        name = f"{spec['prefix']}_{suffix}"
        raw = copy.deepcopy(base_raw)
        raw["name"] = name
        raw["description"] = f"{lead}: {label}" if lead else label
        here = f"{where}: member '{name}'"
        _apply(raw, common, common_overrides, here)
        _apply(raw, changes, overrides, here)
        _validate(raw, here)
        first = [k for k in ("name", "description", "calibration", "seed", "overrides")
                 if k in raw]
        raw = {**{k: raw[k] for k in first}, **{k: v for k, v in raw.items() if k not in first}}
        members.append(Member(name, raw, spec_path))
    return members


def family_files(root: Path) -> list[Path]:
    return sorted((root / FAMILY_DIR).glob("*.toml"))


def _header(member: Member, root: Path, base: str) -> str:
    rel = Path(os.path.relpath(member.family, root)).as_posix()
    return (f"{GENERATED_MARK} from {rel} (base: experiments/{base}.toml) by `make tables` "
            f"(models/study/variants.py).\n# Edit the family file, not this one: it is "
            f"rewritten whenever the family or its base changes.\n")


def render_families(root: str | Path) -> dict[Path, str]:
    """Every family member's file path ``experiments/<name>.toml`` and its text."""
    root = Path(root)
    out: dict[Path, str] = {}
    for spec_path in family_files(root):
        base = _read(spec_path)["base"]
        for member in family_members(spec_path, root):
            path = root / EXPERIMENT_DIR / f"{member.name}.toml"
            if path in out:
                raise ConfigError(f"{spec_path}: member '{member.name}' is made by another "
                                  "family too")
            out[path] = _header(member, root, base) + dumps_toml(member.raw) + "\n"
    return out


def stale_generated(root: str | Path, made: dict[Path, str]) -> list[Path]:
    """Generated experiment files that no family makes any more."""
    keep = {p.resolve() for p in made}
    return [p for p in sorted((Path(root) / EXPERIMENT_DIR).glob("*.toml"))
            if p.resolve() not in keep and p.read_text().startswith(GENERATED_MARK)]


def generate_families(root: str | Path) -> dict[str, list[Path]]:
    """Write every family's members to ``experiments/<name>.toml`` (only when their text
    changes) and remove generated files no family makes any more. Returns ``{"written":
    [...], "removed": [...], "unchanged": [...]}``."""
    made = render_families(root)
    out: dict[str, list[Path]] = {"written": [], "removed": [], "unchanged": []}
    for path, text in made.items():
        if path.is_file() and not path.read_text().startswith(GENERATED_MARK):
            raise ConfigError(f"{path}: a family member would overwrite this hand-written "
                              "experiment; rename the family's prefix or the member")
        out["written" if write_if_changed(path, text) else "unchanged"].append(path)
    for path in stale_generated(root, made):
        path.unlink()
        out["removed"].append(path)
    return out


# ---------------------------------------------------------------------------- small profile
def shrink(raw: dict) -> dict:
    """An experiment dict cut to the small profile (the CI configuration): at most
    :data:`SMALL` paths; the OLG economy only in deterministic experiments (a Monte Carlo one
    gets the calibrated prices); HiGHS on one thread (one process runs every experiment, and
    HiGHS keeps the thread count of its first solve); fewer parameter draws
    (:data:`SMALL_UNCERTAINTY`), out-of-sample paths and replications
    (:data:`SMALL_EVALUATION`) and frontier points (:data:`SMALL_FRONTIER_LEVELS`). Every
    table of the study is still made, from fewer samples (the CI's time: ``make test``)."""
    raw = copy.deepcopy(raw)
    demo = raw.get("demography", {})
    opt = raw.get("optimization")
    uncertainty = raw.get("uncertainty", {})
    if uncertainty.get("median_draws", 0) > 0:
        uncertainty["median_draws"] = min(uncertainty["median_draws"],
                                          SMALL_UNCERTAINTY["median_draws"])
    if demo.get("paths", 0) > 0:
        raw.setdefault("uncertainty", {})["parameter_sets"] = min(
            uncertainty.get("parameter_sets", SMALL_UNCERTAINTY["parameter_sets"]),
            SMALL_UNCERTAINTY["parameter_sets"])
        demo["paths"] = min(demo["paths"], SMALL["demography_paths"])
        demo["chunk_size"] = min(demo.get("chunk_size", 1000), SMALL["chunk_size"])
        if opt is not None:
            opt["paths"] = min(opt.get("paths", demo["paths"]), SMALL["optimization_paths"],
                               demo["paths"])
        raw.setdefault("economy", {})["enabled"] = False
        raw["economy"].pop("monte_carlo_prices", None)
    if opt is not None:
        opt.setdefault("solver", {})["threads"] = 1
        # THE SEARCH CERTIFICATE ("polish", issue 16) of the small profile: off here unless an
        # experiment sets it (each knot move costs a re-computation of the rates: about a
        # minute per experiment at the study's size). To turn it on in CI, set
        # opt["search"]["polish"] = True below (costs: see the commit turning it off/on).
        opt.setdefault("search", {}).setdefault("polish", False)
        # the out-of-sample statistics on a few fresh paths and replications (issue 16)
        evaluation = opt.setdefault("evaluation", {})
        for key, value in SMALL_EVALUATION.items():
            evaluation.setdefault(key, value)
        if demo.get("paths", 0) > 0:
            evaluation.setdefault("replication_paths",
                                  min(SMALL_REPLICATION_PATHS, opt["paths"]))
        frontier = opt.get("frontier", {})
        if frontier.get("enabled", False):
            frontier["levels"] = SMALL_FRONTIER_LEVELS
            scales = frontier.get("delay_scales", [0.0, 1.0, 1.5])
            frontier["delay_scales"] = [scales[0], scales[-1]] if len(scales) > 2 else scales
    return raw


def _relative_calibration(raw: dict, root: Path, out_dir: Path,
                          calibration: Path | None) -> None:
    """Point ``calibration`` at the same folder from a file in ``out_dir`` (the loader resolves
    it against the file's parent's parent)."""
    target = Path(calibration) if calibration else Path(raw.get("calibration",
                                                                "calibration/china"))
    if not target.is_absolute():
        target = (root / target).resolve()
    raw["calibration"] = os.path.relpath(target, out_dir.resolve().parent)


def study_experiments(root: str | Path, small: bool = False) -> list[tuple[str, dict]]:
    """Every experiment of the study as ``(name, raw dict)``: the hand-written files in
    ``experiments/`` and the families' members (cut to the small profile with ``small``)."""
    root = Path(root)
    items: dict[str, dict] = {}
    for path in sorted((root / EXPERIMENT_DIR).glob("*.toml")):
        if path.read_text().startswith(GENERATED_MARK):
            continue  # made again from its family below
        raw = _read(path)
        items[raw.get("name", path.stem)] = raw
    for spec_path in family_files(root):
        for member in family_members(spec_path, root, small=small):
            items[member.name] = member.raw
    return sorted(items.items())


def prepare_small(root: str | Path, out_dir: str | Path,
                  calibration: str | Path | None = None) -> list[Path]:
    """Write the small profile's experiment files into ``out_dir`` (only when changed; stale
    ones removed); ``calibration`` replaces every experiment's calibration folder."""
    root, out_dir = Path(root), Path(out_dir)
    written = []
    for name, raw in study_experiments(root, small=True):
        small = shrink(raw)
        _relative_calibration(small, root, out_dir, Path(calibration) if calibration else None)
        _validate(small, f"{out_dir / name}.toml")
        text = (f"{GENERATED_MARK} small profile of experiment '{name}' by "
                f"models/study/variants.py (SIZE=small)\n" + dumps_toml(small) + "\n")
        path = out_dir / f"{name}.toml"
        write_if_changed(path, text)
        written.append(path)
    keep = {p.resolve() for p in written}
    for path in out_dir.glob("*.toml"):
        if path.resolve() not in keep:
            path.unlink()
    return written
