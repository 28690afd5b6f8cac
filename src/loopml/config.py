"""The project spec, ``loopml.yaml``: one file that describes the whole lifecycle.

:class:`ProjectSpec` is a pydantic model; :func:`load_spec` reads YAML and turns
validation failures into a :class:`SpecError` that names each bad key with its
line number. :func:`starter_spec` is what ``loopml init`` writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from loopml.exceptions import LoopmlError

__all__ = ["ProjectSpec", "SpecError", "load_spec", "starter_spec"]


class SpecError(LoopmlError, ValueError):
    """``loopml.yaml`` is not valid; the message names every bad key and its line."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSpec(_Section):
    source: str = Field(description="CSV/Parquet/JSONL file, directory, or builtin:NAME")
    target: str | None = None
    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"
    split: list[float] = Field(default_factory=lambda: [0.7, 0.15, 0.15])
    time_column: str | None = None
    group_column: str | None = None
    roles: dict[str, str] = Field(default_factory=dict)

    @field_validator("split")
    @classmethod
    def _three_fractions(cls, v: list[float]) -> list[float]:
        from loopml.data.split import parse_sizes

        try:
            return list(parse_sizes(v))
        except ValueError as exc:
            raise ValueError(str(exc)) from None


class TrainingSpec(_Section):
    models: list[str] | None = None
    metric: str | None = None
    time_budget: float | None = Field(default=None, gt=0)
    trials: int | None = Field(default=None, gt=0)
    tune: Literal["grid", "random", "bayes"] | None = None
    seed: int = 0


class DeploymentSpec(_Section):
    stage: Literal["none", "staging", "production"] = "staging"
    mode: Literal["batch", "realtime", "async", "edge"] = "batch"


class AlertSpec(_Section):
    rule: str = Field(description="e.g. 'drift_share > 0.3' or 'recall < 0.8'")
    severity: Literal["info", "warning", "error", "critical"] = "warning"


class MonitoringSpec(_Section):
    drift_method: Literal["auto", "ks", "chisquare", "wasserstein", "jensenshannon", "psi"] = "auto"
    drift_threshold: float | None = None
    drift_share: float = Field(default=0.5, gt=0, le=1)
    window: str = "1D"
    alerts: list[AlertSpec] = Field(default_factory=list)
    channels: list[str] = Field(
        default_factory=lambda: ["log"], description="log, file:PATH or a webhook http(s) URL"
    )


class RetrainingSpec(_Section):
    policy: Literal["manual", "on_drift", "schedule"] = "manual"
    every: str | None = None
    margin: float = Field(default=0.0, ge=0)


class ProjectSpec(_Section):
    """Everything ``loopml run`` needs, from the business goal to retraining."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    goal: str = ""
    kpis: list[str] = Field(default_factory=list)
    data: DataSpec
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    deployment: DeploymentSpec = Field(default_factory=DeploymentSpec)
    monitoring: MonitoringSpec = Field(default_factory=MonitoringSpec)
    retraining: RetrainingSpec = Field(default_factory=RetrainingSpec)

    @field_validator("kpis")
    @classmethod
    def _kpis_parse(cls, v: list[str]) -> list[str]:
        import re

        pattern = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*(>=|<=|==|>|<)\s*-?[0-9.eE+-]+\s*$")
        for item in v:
            if not pattern.match(item):
                raise ValueError(
                    f"KPI {item!r} must look like 'metric >= number' (operators >=, >, <=, <, ==)"
                )
        return v


def load_spec(path: str | Path) -> ProjectSpec:
    """Read and validate ``loopml.yaml``.

    Raises
    ------
    SpecError
        If the file is missing, is not YAML, or has invalid keys or values; the
        message names each key path with its line number and what was expected.
    """
    import yaml

    path = Path(path)
    if not path.exists():
        raise SpecError(f"{path} does not exist. Create one with: loopml init NAME")
    text = path.read_text()
    try:
        data = yaml.safe_load(text)
        lines = _key_lines(yaml.compose(text))
    except yaml.YAMLError as exc:
        raise SpecError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path} must be a mapping of keys (name, goal, kpis, data, ...).")
    try:
        spec = ProjectSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(str(p) for p in err["loc"])
            key = ".".join(loc) or "(top level)"
            line = _nearest_line(lines, loc)
            where = f"line {line}" if line else "missing"
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling; `loopml init` shows every option)"
            problems.append(f"  - {key} ({where}): {msg}")
        raise SpecError(f"{path} has {len(problems)} problem(s):\n" + "\n".join(problems)) from None
    base = path.parent
    src = spec.data.source
    if not src.startswith("builtin:") and not Path(src).is_absolute():
        spec.data.source = str((base / src).resolve()) if (base / src).exists() else src
    return spec


def _key_lines(node: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """Map each key path in a composed YAML tree to its 1-based line number."""
    import yaml

    out: dict[tuple[str, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, str(key.value))
            out[path] = key.start_mark.line + 1
            out.update(_key_lines(value, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = (*prefix, str(i))
            out[path] = item.start_mark.line + 1
            out.update(_key_lines(item, path))
    return out


def _nearest_line(lines: dict[tuple[str, ...], int], loc: tuple[str, ...]) -> int | None:
    for n in range(len(loc), 0, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def starter_spec(name: str, source: str = "builtin:breast_cancer", target: str = "target") -> str:
    """The documented ``loopml.yaml`` that ``loopml init`` writes."""
    return f"""\
# loopml project spec. Run the whole lifecycle with: loopml run loopml.yaml
name: {name}

# 1. Business goal and KPIs. KPIs are gates: deployment stops when one fails.
goal: >-
  Describe the decision this model supports and what success looks like.
kpis:
  - roc_auc >= 0.90        # any test metric: accuracy, recall, f1, rmse, r2, ...
  # - recall >= 0.80

# 2-3. Framing and data processing.
data:
  source: {source}   # CSV/TSV/Parquet/JSONL file, a directory, or builtin:NAME
  target: {target}
  task: auto               # auto | binary | multiclass | regression
  split: [0.7, 0.15, 0.15] # train, validation, test
  # time_column: signup_date   # split in time order
  # group_column: customer_id  # keep a group's rows together
  # roles: {{zip: categorical}}  # override inferred column roles

# 5-6. Feature engineering is automatic; model development:
training:
  seed: 0
  # models: [logreg, lgbm, rf]  # candidate families (default: a fast portfolio)
  # metric: roc_auc             # selection metric (default per task)
  # time_budget: 60             # seconds for the AutoML search
  # trials: 50                  # or a trial budget
  # tune: bayes                 # grid | random | bayes

# 8. Deployment: only when every KPI gate passes.
deployment:
  stage: staging           # none | staging | production
  mode: batch              # batch | realtime | async | edge

# 9. Monitoring.
monitoring:
  drift_method: auto       # auto | ks | chisquare | wasserstein | jensenshannon | psi
  drift_share: 0.5         # dataset drift when this share of features drifts
  window: 1D
  channels: [log]          # log, file:alerts.jsonl, or a webhook URL
  # alerts:
  #   - rule: drift_share > 0.3
  #     severity: warning

# 10. Continuous iteration.
retraining:
  policy: manual           # manual | on_drift | schedule
  margin: 0.0              # a challenger must beat the champion by this much
"""
