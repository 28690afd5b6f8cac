"""The lifecycle orchestrator behind ``loopml run``.

Phases run in the order practitioners name them — goal, framing, data, EDA,
features, models, evaluation, deployment — each recorded in the store as a run
of kind ``phase:<name>`` under one ``lifecycle`` run, with status, duration and
outputs. Completed phases are remembered in ``.loopml/lifecycle/<name>.json`` so
``--resume`` continues after a failure or Ctrl-C without redoing them; a phase
whose inputs (the parts of the spec it reads) changed is run again.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.exceptions import LoopmlError

if TYPE_CHECKING:
    from loopml.config import ProjectSpec
    from loopml.store import Store

__all__ = ["PHASES", "GateFailure", "LifecycleResult", "PhaseResult", "run_lifecycle"]


class GateFailure(LoopmlError):
    """A KPI gate failed, so the model was not deployed."""


@dataclass
class PhaseResult:
    name: str
    status: str  # "done", "skipped" (resumed), "failed", "blocked"
    seconds: float
    outputs: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    error: str | None = None


@dataclass
class LifecycleResult:
    name: str
    run_id: int
    phases: list[PhaseResult]
    model_ref: str | None = None
    deployed_stage: str | None = None
    report: str | None = None

    @property
    def ok(self) -> bool:
        return all(p.status in ("done", "skipped") for p in self.phases)


@dataclass
class _Context:
    spec: ProjectSpec
    store: Store
    workdir: Path
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    frame: Any = None

    def data(self) -> Any:
        """The project's data, loaded once per process."""
        if self.frame is None:
            from loopml.data.io import load

            self.frame = load(self.spec.data.source)
        return self.frame


PhaseFn = Callable[[_Context], tuple[dict[str, Any], str]]


def _sizes(split: list[float]) -> tuple[float, float, float]:
    return (split[0], split[1], split[2])


def _goal(ctx: _Context) -> tuple[dict[str, Any], str]:
    from loopml.gates import parse_gates

    gates = parse_gates(ctx.spec.kpis)
    kpis = [str(g) for g in gates]
    text = f"{len(kpis)} KPI gate(s): {', '.join(kpis)}" if kpis else "no KPI gates"
    return {"goal": ctx.spec.goal, "kpis": kpis}, text


def _framing(ctx: _Context) -> tuple[dict[str, Any], str]:
    from loopml.data.schema import infer_schema

    spec = ctx.spec.data
    df = ctx.data()
    target = spec.target or ("target" if spec.source.startswith("builtin:") else None)
    if target is None:
        raise LoopmlError("loopml.yaml: data.target is required for a supervised project.")
    from loopml.data.validate import check_target

    check_target(df, target, spec.source)
    task = None if spec.task == "auto" else spec.task
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = infer_schema(df.dropna(subset=[target]), target, task=task, roles=spec.roles)
    roles: dict[str, int] = {}
    for c in schema.columns:
        roles[str(c.role)] = roles.get(str(c.role), 0) + 1
    out = {
        "target": target,
        "task": str(schema.task),
        "rows": len(df),
        "columns": len(df.columns),
        "roles": roles,
        "classes": [str(c) for c in schema.classes or []],
    }
    return out, f"{schema.task} on '{target}' ({len(df):,} rows, {len(df.columns)} columns)"


def _data(ctx: _Context) -> tuple[dict[str, Any], str]:
    from loopml.data.split import split
    from loopml.data.validate import drop_missing_target

    spec = ctx.spec.data
    target = ctx.outputs["framing"]["target"]
    df, note = drop_missing_target(ctx.data(), target, spec.source)
    sp = split(
        df,
        target,
        sizes=_sizes(spec.split),
        seed=ctx.spec.training.seed,
        time_column=spec.time_column,
        group_column=spec.group_column,
        where=spec.source,
    )
    counts = sp.counts
    notes = ([note] if note else []) + sp.notes
    return (
        {"split": sp.info(), "notes": notes},
        f"{counts['train']}/{counts['valid']}/{counts['test']} rows ({sp.strategy})",
    )


def _eda(ctx: _Context) -> tuple[dict[str, Any], str]:
    from loopml.data.profile import profile

    target = ctx.outputs["framing"]["target"]
    prof = profile(ctx.data(), target, name=ctx.spec.name)
    html, js = prof.save(ctx.workdir / "eda.html")
    return (
        {"html": str(html), "json": str(js), "warnings": [w["message"] for w in prof.warnings]},
        f"{len(prof.warnings)} warning(s); report {html}",
    )


def _features(ctx: _Context) -> tuple[dict[str, Any], str]:
    import warnings

    from loopml.data.schema import infer_schema
    from loopml.data.split import split
    from loopml.features.build import build_features
    from loopml.learn.supervised import encode_target

    spec = ctx.spec.data
    target = ctx.outputs["framing"]["target"]
    df = ctx.data().dropna(subset=[target])
    task = None if spec.task == "auto" else spec.task
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = infer_schema(df, target, task=task, roles=spec.roles)
    sp = split(
        df,
        target,
        sizes=_sizes(spec.split),
        seed=ctx.spec.training.seed,
        time_column=spec.time_column,
        group_column=spec.group_column,
    )
    pipe = build_features(schema)
    matrix = pipe.fit_transform(sp.train, encode_target(sp.train[target], schema))
    names = [str(n) for n in pipe.get_feature_names_out()]
    return (
        {
            "n_inputs": len(schema.features),
            "n_features": int(matrix.shape[1]),
            "names": names[:200],
        },
        f"{len(schema.features)} input columns -> {matrix.shape[1]} model features",
    )


def _models(ctx: _Context) -> tuple[dict[str, Any], str]:
    from loopml.learn.supervised import train

    spec, training = ctx.spec.data, ctx.spec.training
    kwargs: dict[str, Any] = {}
    if training.time_budget is not None:
        kwargs["time_budget"] = training.time_budget
    if training.trials is not None:
        kwargs["n_trials"] = training.trials
    if training.tune is not None:
        kwargs["tune"] = training.tune
    result = train(
        ctx.data(),
        ctx.outputs["framing"]["target"],
        name=ctx.spec.name,
        task=None if spec.task == "auto" else spec.task,
        models=training.models,
        metric=training.metric,
        split_sizes=_sizes(spec.split),
        seed=training.seed,
        time_column=spec.time_column,
        group_column=spec.group_column,
        roles=spec.roles or None,
        store=ctx.store,
        **kwargs,
    )
    board = result.leaderboard
    return (
        {
            "ref": result.ref,
            "version": result.version,
            "train_run_id": result.run_id,
            "metric": result.metric,
            "best": result.best.model,
            "leaderboard": board.drop(columns=["params"], errors="ignore").to_dict("records"),
        },
        f"{result.ref}: {result.best.model} best of {len(result.trials)} candidate(s)",
    )


def _evaluation(ctx: _Context) -> tuple[dict[str, Any], str]:
    models = ctx.outputs["models"]
    record = ctx.store.resolve(models["ref"])
    metrics = {k: v for k, v in record.metrics.items() if v == v}
    out: dict[str, Any] = {"test_metrics": metrics}
    from loopml.report.run import render_run_report

    path = render_run_report(
        ctx.store,
        models["train_run_id"],
        spec_goal=ctx.spec.goal,
        kpis=ctx.spec.kpis,
        path=ctx.workdir / "report.html",
    )
    out["report"] = str(path)
    key = models["metric"]
    shown = f"test {key} {metrics[key]:.4f}" if key in metrics else "test metrics recorded"
    return out, shown + (f"; report {out['report']}" if "report" in out else "")


def _deployment(ctx: _Context) -> tuple[dict[str, Any], str]:
    from loopml.gates import GateError, check_gates, parse_gates
    from loopml.registry import promote, version_figures

    record = ctx.store.resolve(ctx.outputs["models"]["ref"])
    gates = parse_gates(ctx.spec.kpis)
    stage = ctx.spec.deployment.stage
    hint = " Improve the model, or change the KPIs in loopml.yaml and run with --resume."
    if stage == "none" or not gates:
        figures, _ = version_figures(ctx.store, record, gates)
        report = check_gates(gates, figures)
        if not report.passed:
            raise GateFailure(f"Not deployed: {report.summary()}." + hint)
        if stage != "none":
            promote(ctx.store, record.name, record.version, stage, reason="loopml run")
    else:
        try:
            promotion = promote(
                ctx.store, record.name, record.version, stage, gates=gates, reason="loopml run"
            )
        except GateError as exc:
            raise GateFailure(f"Not deployed. {exc}".split("\nImprove")[0] + hint) from None
        report = promotion.report or check_gates(gates, record.metrics)
    return (
        {"stage": stage, "gates": [r.message for r in report.results]},
        f"{record.ref} -> {stage}" + (f" ({len(gates)} gate(s) passed)" if gates else ""),
    )


#: (name, function, the spec sections its result depends on)
PHASES: list[tuple[str, PhaseFn, tuple[str, ...]]] = [
    ("goal", _goal, ("goal", "kpis")),
    ("framing", _framing, ("data",)),
    ("data", _data, ("data", "training.seed")),
    ("eda", _eda, ("data",)),
    ("features", _features, ("data", "training.seed")),
    ("models", _models, ("data", "training")),
    ("evaluation", _evaluation, ("data", "training", "goal", "kpis")),
    ("deployment", _deployment, ("data", "training", "kpis", "deployment")),
]


def _fingerprint(spec: ProjectSpec, keys: tuple[str, ...]) -> str:
    dumped = spec.model_dump(mode="json")
    parts = {}
    for key in keys:
        value: Any = dumped
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        parts[key] = value
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _state_path(store: Store, name: str) -> Path:
    return Path(store.root) / "lifecycle" / f"{name}.json"


def _save_state(path: Path, state: dict[str, Any]) -> None:
    from loopml._fs import atomic_write_text

    atomic_write_text(path, json.dumps(state, indent=2, default=str))


def run_lifecycle(
    spec: ProjectSpec,
    *,
    store: Store | None = None,
    resume: bool = False,
    workdir: str | Path | None = None,
    on_phase: Callable[[str, PhaseResult | None], None] | None = None,
) -> LifecycleResult:
    """Run every phase of *spec* in order; see the module docstring.

    ``on_phase(name, None)`` is called when a phase starts and
    ``on_phase(name, result)`` when it ends. A failing phase stops the run; a failed
    KPI gate stops it before deployment (status "blocked"), and the error is raised
    after the state is saved so that ``resume=True`` continues from there.
    """
    from loopml.store import Store

    store = store or Store()
    notify = on_phase or (lambda name, result: None)
    state_file = _state_path(store, spec.name)
    state: dict[str, Any] = {"completed": {}}
    if resume and state_file.exists():
        state = json.loads(state_file.read_text())
    elif not resume:
        state_file.unlink(missing_ok=True)
    out_dir = Path(workdir) if workdir else Path(store.root) / "lifecycle" / spec.name
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = _Context(spec=spec, store=store, workdir=out_dir)
    results: list[PhaseResult] = []
    params = {"spec": spec.model_dump(mode="json"), "resume": resume}
    with store.start_run(spec.name, kind="lifecycle", params=params) as life:
        for name, fn, keys in PHASES:
            fingerprint = _fingerprint(spec, keys)
            done = state["completed"].get(name)
            if done and done.get("fingerprint") == fingerprint:
                ctx.outputs[name] = done["outputs"]
                result = PhaseResult(name, "skipped", 0.0, done["outputs"], done.get("summary", ""))
                results.append(result)
                notify(name, result)
                continue
            notify(name, None)
            started = time.perf_counter()
            try:
                with store.start_run(
                    spec.name, kind=f"phase:{name}", params={"lifecycle_run": life.id}
                ) as phase_run:
                    outputs, summary = fn(ctx)
                    phase_run.set(outputs=outputs, summary=summary)
            except BaseException as exc:
                status = "blocked" if isinstance(exc, GateFailure) else "failed"
                result = PhaseResult(name, status, time.perf_counter() - started, error=f"{exc}")
                results.append(result)
                notify(name, result)
                life.set(phases=[_row(r) for r in results])
                _save_state(state_file, state)
                raise
            ctx.outputs[name] = outputs
            state["completed"][name] = {
                "fingerprint": fingerprint,
                "outputs": outputs,
                "summary": summary,
            }
            # Later phases read earlier outputs: invalidate them when this one reran.
            later = [p for p, _, _ in PHASES[PHASES.index((name, fn, keys)) + 1 :]]
            for p in later:
                state["completed"].pop(p, None)
            _save_state(state_file, state)
            result = PhaseResult(name, "done", time.perf_counter() - started, outputs, summary)
            results.append(result)
            notify(name, result)
        life.set(phases=[_row(r) for r in results])
    models = ctx.outputs.get("models", {})
    return LifecycleResult(
        name=spec.name,
        run_id=life.id,
        phases=results,
        model_ref=models.get("ref"),
        deployed_stage=ctx.outputs.get("deployment", {}).get("stage"),
        report=ctx.outputs.get("evaluation", {}).get("report"),
    )


def _row(r: PhaseResult) -> dict[str, Any]:
    return {
        "phase": r.name,
        "status": r.status,
        "seconds": round(r.seconds, 3),
        "summary": r.summary,
        "error": r.error,
    }
