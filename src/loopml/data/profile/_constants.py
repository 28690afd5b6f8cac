"""Thresholds and limits of the profile."""

from __future__ import annotations

#: A feature whose |Pearson| or |Spearman| with a numeric target exceeds this is flagged.
LEAKAGE_CORRELATION = 0.95
#: A feature whose single-feature stump balanced accuracy (or binary AUC) reaches this is flagged.
LEAKAGE_SCORE = 0.99
#: Categorical columns with more distinct values than this are high-cardinality.
HIGH_CARDINALITY = 50
#: Majority/minority class ratio from which the target counts as imbalanced.
IMBALANCE_RATIO = 5.0
#: |skewness| above this is strong skew.
SKEW_THRESHOLD = 2.0
#: Missing share above this is flagged.
MISSING_THRESHOLD = 0.2
#: Most columns in a correlation matrix (the first ones, target first, are kept).
MAX_CORRELATION_COLUMNS = 100
#: Most categorical columns in the Cramér's V matrix.
MAX_CATEGORICAL_COLUMNS = 40
#: Categories kept per column for associations; the rest are pooled as one.
MAX_CATEGORIES = 50
#: Rows used for the (per-feature) target-association checks.
ASSOCIATION_ROWS = 20_000
TOP_VALUES = 10
_MIN_ROWS_FOR_LEAKAGE = 30
