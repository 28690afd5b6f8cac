"""Association-rules benchmark: loopml's ``mine_rules`` against mlxtend used directly.

Run: ``.venv/bin/python benchmarks/rules.py [--transactions 100000] [--items 1000]``

Data (seed 0): long-format baskets, one row per (transaction_id, item); basket sizes
1 + Poisson(7); items drawn with Zipf-like popularity (weight ``1 / rank**1.1``) plus
four planted bundles that co-occur (2-4 items, in 1.5-4% of baskets, each item kept
with probability 0.9).

Each side runs in its own fresh subprocess, starting from the same long frame read
from Parquet (reading is not measured):

- loopml: ``mine_rules(df, transaction_col=..., item_col=...)`` (sparse encoding,
  explosion guard, mlxtend FP-growth on the frequent items, exact rule metrics);
  also with ``algorithm="apriori"``;
- mlxtend the way its user guide does it: group items per transaction,
  ``TransactionEncoder`` to a dense bool DataFrame, ``fpgrowth(use_colnames=True)``,
  ``association_rules(metric="confidence")``.

Wall time is the median of 3 runs; memory is the peak RSS increase over the
process's RSS after loading the data (``ru_maxrss``), and the peak traced by
``tracemalloc`` in a separate run (tracemalloc slows pure-Python code, so it is not
timed). The rule sets are then compared: same rules, and support, confidence, lift
(and the other metrics) within 1e-12. The guard's itemset estimate is compared with
the number of itemsets actually mined at several supports.

Figures go to BENCHMARKS.md, section "## Association rules".
"""

from __future__ import annotations

import argparse
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SIDES = {
    "loopml": "loopml mine_rules (fpgrowth)",
    "loopml-apriori": "loopml mine_rules (apriori)",
    "mlxtend": "mlxtend: TransactionEncoder + fpgrowth + association_rules",
}
METRICS = (
    "antecedent_support",
    "consequent_support",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
)


# -- data ---------------------------------------------------------------------------------


def make_baskets(n: int, m: int, seed: int = 0) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, m + 1) ** 1.1
    sizes = rng.poisson(7, n) + 1
    rows = [np.repeat(np.arange(n), sizes)]
    cols = [rng.choice(m, size=int(sizes.sum()), p=pop / pop.sum())]
    bundles = {(10, 20, 30): 0.03, (100, 200): 0.02, (300, 400, 500, 600): 0.015, (50, 51): 0.04}
    for items, share in bundles.items():
        hit = np.flatnonzero(rng.random(n) < share)
        for item in items:
            keep = hit[rng.random(len(hit)) < 0.9]
            rows.append(keep)
            cols.append(np.full(len(keep), item))
    # Items that land twice in a basket are one item; both sides see the same rows.
    frame = pd.DataFrame({"transaction_id": np.concatenate(rows), "item": np.concatenate(cols)})
    frame["item"] = "item" + frame["item"].astype(str).str.zfill(4)
    return frame.sort_values("transaction_id", kind="stable").reset_index(drop=True)


# -- one side, in a subprocess -----------------------------------------------------------------


def run_side(side: str, data: Path, min_support: float, min_confidence: float, out: Path) -> None:
    import pandas as pd

    df = pd.read_parquet(data)
    if side.startswith("loopml"):
        import mlxtend.frequent_patterns  # noqa: F401  (imported before timing, as for mlxtend)

        from loopml.learn.rules import mine_rules
    else:
        from mlxtend.frequent_patterns import association_rules, fpgrowth
        from mlxtend.preprocessing import TransactionEncoder
    trace = "--trace" in sys.argv
    if trace:
        import tracemalloc

        tracemalloc.start()
    # Reset the peak-RSS mark, so the peak below is the pipeline's, not the data loading's.
    try:
        Path("/proc/self/clear_refs").write_text("5")
        rss0 = _status_kb("VmRSS")
    except OSError:
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if side.startswith("loopml"):
        algorithm = "apriori" if side.endswith("apriori") else "fpgrowth"
        result = mine_rules(
            df,
            min_support=min_support,
            min_confidence=min_confidence,
            algorithm=algorithm,  # type: ignore[arg-type]
            transaction_col="transaction_id",
            item_col="item",
        )
        rules = result.rules
        n_itemsets = result.n_itemsets
    else:
        transactions = df.groupby("transaction_id")["item"].apply(list).tolist()
        te = TransactionEncoder()
        onehot = te.fit(transactions).transform(transactions)
        frame = pd.DataFrame(onehot, columns=te.columns_)
        itemsets = fpgrowth(frame, min_support=min_support, use_colnames=True)
        rules = association_rules(
            itemsets, num_itemsets=len(frame), metric="confidence", min_threshold=min_confidence
        )
        n_itemsets = len(itemsets)
    elapsed = time.perf_counter() - t0
    rss1 = max(_status_kb("VmHWM"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    traced = tracemalloc.get_traced_memory()[1] if trace else None
    table = {
        (tuple(sorted(a)), tuple(sorted(c))): {
            k: float(row[k if k in rules.columns else k.replace("_", " ")]) for k in METRICS
        }
        for a, c, (_, row) in zip(
            rules["antecedents"], rules["consequents"], rules.iterrows(), strict=True
        )
    }
    counts = None
    if "count" in rules.columns:
        n = df["transaction_id"].nunique()
        counts = {
            (tuple(a), tuple(c)): (int(k), round(s * n))
            for a, c, k, s in zip(
                rules["antecedents"],
                rules["consequents"],
                rules["count"],
                rules["antecedent_support"],
                strict=True,
            )
        }
    out.write_bytes(
        pickle.dumps(
            {
                "seconds": elapsed,
                "rss_start_mb": rss0 / 1024,
                "rss_peak_mb": rss1 / 1024,
                "traced_peak_mb": traced / 2**20 if traced is not None else None,
                "rules": table,
                "counts": counts,
                "n_itemsets": n_itemsets,
            }
        )
    )


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def measure(side: str, data: Path, ms: float, mc: float, work: Path, trace: bool) -> dict[str, Any]:
    out = work / f"{side}-{ms}-{'trace' if trace else 'time'}.pkl"
    args = [sys.executable, __file__, "--worker", side, "--data", str(data), "--out", str(out)]
    args += ["--min-support", str(ms), "--min-confidence", str(mc)] + (["--trace"] if trace else [])
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{side} failed:\n{proc.stderr}")
    result: dict[str, Any] = pickle.loads(out.read_bytes())
    return result


# -- comparison ------------------------------------------------------------------------------


def compare(ours: dict[str, Any], theirs: dict[str, Any], min_confidence: float) -> dict[str, Any]:
    """Same rules and metrics within 1e-12; loopml may keep rules whose confidence is
    exactly min_confidence, which mlxtend's float arithmetic rounds just below it."""
    a, b = ours["rules"], theirs["rules"]
    missing = set(b) - set(a)
    extra = set(a) - set(b)
    assert not missing, (
        f"{len(missing)} mlxtend rules missing from loopml, e.g. {next(iter(missing))}"
    )
    threshold = Fraction(str(min_confidence))
    for key in extra:
        c_ac, c_a = ours["counts"][key]
        assert Fraction(c_ac, c_a) == threshold, f"extra rule {key} has confidence {c_ac}/{c_a}"
    worst = 0.0
    for key in b:
        for metric in METRICS:
            x, y = a[key][metric], b[key][metric]
            if x == y:
                continue
            diff = abs(x - y)
            assert diff <= 1e-12, f"{key} {metric}: loopml {x!r} vs mlxtend {y!r}"
            worst = max(worst, diff)
    return {"common": len(b), "extra_at_threshold": len(extra), "max_abs_diff": worst}


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--supports", default="0.005,0.001")
    parser.add_argument("--min-confidence", type=float, default=0.3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    supports = [float(s) for s in args.supports.split(",")]
    mc = args.min_confidence

    import mlxtend
    import pandas as pd
    from _report import machine_info, write_section

    from loopml.learn.rules import encode_transactions, estimate_itemsets, mine_rules

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        df = make_baskets(args.transactions, args.items)
        data = work / "baskets.parquet"
        df.to_parquet(data)
        n_tx = df["transaction_id"].nunique()
        baskets = encode_transactions(df, transaction_col="transaction_id", item_col="item")
        print(
            f"{n_tx:,} transactions, {df['item'].nunique():,} items, {baskets.matrix.nnz:,} (transaction, item) pairs"
        )

        table_rows = []
        checks = []
        for ms in supports:
            results: dict[str, dict[str, Any]] = {}
            for side in SIDES:
                runs = [measure(side, data, ms, mc, work, trace=False) for _ in range(args.repeat)]
                traced = measure(side, data, ms, mc, work, trace=True)
                results[side] = {
                    "seconds": statistics.median(r["seconds"] for r in runs),
                    "rss_mb": statistics.median(r["rss_peak_mb"] - r["rss_start_mb"] for r in runs),
                    "traced_mb": traced["traced_peak_mb"],
                    "last": runs[-1],
                }
                print(ms, side, {k: v for k, v in results[side].items() if k != "last"})
            for side in ("loopml", "loopml-apriori"):
                check = compare(results[side]["last"], results["mlxtend"]["last"], mc)
                checks.append((ms, side, check, results[side]["last"]["n_itemsets"]))
                print("  identical to mlxtend:", side, check)
            base = results["mlxtend"]
            for side, label in SIDES.items():
                r = results[side]
                table_rows.append(
                    f"| {ms:g} | {label} | {len(r['last']['rules']):,} | {r['seconds']:.2f} | "
                    f"{base['seconds'] / r['seconds']:.2f}x | {r['rss_mb']:.0f} | "
                    f"{base['rss_mb'] / r['rss_mb']:.2f}x | {r['traced_mb']:.0f} | "
                    f"{base['traced_mb'] / r['traced_mb']:.1f}x |"
                )

        estimates = []
        for ms in (0.005, 0.002, 0.001, 0.0005, 0.0002):
            if ms * n_tx < 10:  # a min count this small mines (nearly) every subset
                continue
            t0 = time.perf_counter()
            est = estimate_itemsets(baskets, ms)
            t_est = time.perf_counter() - t0
            found = mine_rules(
                baskets, min_support=ms, max_itemsets=None, min_confidence=1.0
            ).n_itemsets
            estimates.append(
                f"| {ms:g} | {found:,} | {est.total:,.0f} | {est.total / found:.2f} | "
                f"{est.upper_bound:,.0f} | {t_est:.2f} |"
            )
            print("estimate", ms, found, round(est.total), round(t_est, 2))

    check_lines = "\n".join(
        f"- min_support={ms:g}, {side}: {c['common']:,} rules identical to mlxtend's "
        f"({n:,} frequent itemsets; largest metric difference {c['max_abs_diff']:.1e}); "
        f"{c['extra_at_threshold']} more rule(s) whose confidence is exactly {mc:g}."
        for ms, side, c, n in checks
    )
    body = f"""
{machine_info()} mlxtend {mlxtend.__version__}, pandas {pd.__version__}.

Data: {n_tx:,} transactions, {args.items:,} items (Zipf-like popularity, 1 + Poisson(7)
items per basket, four planted bundles), seed 0; long format, one row per
(transaction, item). min_confidence={mc:g}. Each side runs in a fresh process from the
same Parquet file, with the libraries imported before the clock starts; time is the
median of {args.repeat} runs; "peak RSS" is the resident-memory peak of the pipeline
above the process's size once the data is loaded (Linux VmHWM, reset before the run);
"traced" is tracemalloc's peak of what the pipeline allocates (a separate run).
Ratios are mlxtend / loopml: above 1, loopml is faster or smaller.

| min_support | pipeline | rules | wall s | speed-up | peak RSS MB | RSS ratio | traced MB | traced ratio |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(table_rows)}

Same rules, same numbers (asserted in the run):

{check_lines}

The extra rules are a rounding artefact on mlxtend's side: it computes confidence as
``(support(AC) * n) / (support(A) * n)``, which for e.g. 123/410 gives
0.29999999999999993 and drops a rule whose confidence is exactly 0.3; loopml divides
the integer counts (123 / 410 = 0.3, correctly rounded) and keeps it.

Where the gains come from: loopml builds a sparse matrix straight from the long frame
(no per-transaction Python lists, no dense transactions x items frame), drops the
infrequent items before mining, and computes rule metrics vectorised from counts.
The mining itself is mlxtend's on both sides, so the gap narrows as mining dominates
(lower min_support); loopml's "apriori" is mlxtend's low-memory Apriori on the sparse
frame, quick at high support but slower than FP-growth at low support.

The explosion guard's estimate of the number of frequent itemsets against the number
mined (same data; the guard refuses above max_itemsets, default 1,000,000):

| min_support | itemsets mined | estimate | estimate / mined | hard upper bound | estimate s |
|---|---|---|---|---|---|
{chr(10).join(estimates)}
"""
    print(body)
    if not args.no_write:
        write_section("Association rules", body)


if __name__ == "__main__":
    if "--worker" in sys.argv:
        p = argparse.ArgumentParser()
        p.add_argument("--worker")
        p.add_argument("--data", type=Path)
        p.add_argument("--out", type=Path)
        p.add_argument("--min-support", type=float)
        p.add_argument("--min-confidence", type=float)
        p.add_argument("--trace", action="store_true")
        a = p.parse_args()
        run_side(a.worker, a.data, a.min_support, a.min_confidence, a.out)
    else:
        main()
