"""Writes scikit-learn's wine and breast-cancer datasets with planted defects as CSV and Parquet
for tests/checks_sklearn.rs, plus pandas' own statistics of some columns (the oracle).

usage: python3 tests/checks_data.py OUTDIR

Planted defects (0-based data rows), which the test asserts exactly:
wine (178 rows, sorted by class):
  alcohol   null at 3 and 50; 99.0 at 5 and -1.0 at 60 (natural range 11.03..14.83)
  id        0..177 with id 6 again at row 7 and id 99 again at row 100
  grade     class as a/b/c; 'z' at rows 10 and 11, 'q' at row 12 (all class a)
  code      'W-0000'..'W-0177'; 'X-20' at row 20 (regex and length miss)
  proline   50 at row 30 (proline > magnesium everywhere else)
  day       2020-01-01 plus row days; '2024-13-01' at row 15 (not a date)
wine_ref:   the clean wine data (no defects), and wine_shifted: alcohol + 1.5
wine_train: clean rows 0..149; wine_test: clean rows 150..177, then clean rows 1, 2, 3 (ids 1,
  2, 3 leak from wine_train: test rows 28, 29, 30)
cancer (569 rows): 'mean radius' null at 0 and 568; 'mean area' 5000 at row 300 (natural max
  2501); rows 100 and 200 share 'mean radius' and 'mean texture' (row 200 copies row 100's).
"""
import json
import os
import sys

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_wine


def wine_frame():
    wine = load_wine(as_frame=True).frame
    wine.insert(0, "id", np.arange(len(wine)))
    wine["grade"] = wine["target"].map({0: "a", 1: "b", 2: "c"})
    wine["code"] = [f"W-{i:04d}" for i in range(len(wine))]
    wine["day"] = [
        (pd.Timestamp("2020-01-01") + pd.Timedelta(days=i)).strftime("%Y-%m-%d")
        for i in range(len(wine))
    ]
    return wine


def write(frame, out, name):
    frame.to_csv(os.path.join(out, f"{name}.csv"), index=False)
    frame.to_parquet(os.path.join(out, f"{name}.parquet"), index=False)


def stats(series):
    numbers = series.dropna()
    return {
        "mean": float(numbers.mean()),
        "median": float(numbers.median()),
        "std": float(numbers.std()),
        "min": float(numbers.min()),
        "max": float(numbers.max()),
        "sum": float(numbers.sum()),
        "q90": float(numbers.quantile(0.9)),
        "q25": float(numbers.quantile(0.25)),
        "distinct_count": int(numbers.nunique()),
        "unique_proportion": float(numbers.nunique() / len(numbers)),
        "null_fraction": float(series.isna().sum() / len(series)),
    }


def main():
    out = sys.argv[1]
    clean = wine_frame()
    write(clean, out, "wine_ref")
    shifted = clean.copy()
    shifted["alcohol"] = shifted["alcohol"] + 1.5
    write(shifted, out, "wine_shifted")
    write(clean.iloc[:150], out, "wine_train")
    test = pd.concat([clean.iloc[150:], clean.iloc[[1, 2, 3]]], ignore_index=True)
    write(test, out, "wine_test")

    wine = clean.copy()
    wine["alcohol"] = wine["alcohol"].astype(float)
    wine.loc[[3, 50], "alcohol"] = np.nan
    wine.loc[5, "alcohol"] = 99.0
    wine.loc[60, "alcohol"] = -1.0
    wine.loc[7, "id"] = 6
    wine.loc[100, "id"] = 99
    wine.loc[[10, 11], "grade"] = "z"
    wine.loc[12, "grade"] = "q"
    wine.loc[20, "code"] = "X-20"
    wine.loc[30, "proline"] = 50
    wine.loc[15, "day"] = "2024-13-01"
    write(wine, out, "wine")

    cancer = load_breast_cancer(as_frame=True).frame
    cancer.loc[[0, 568], "mean radius"] = np.nan
    cancer.loc[300, "mean area"] = 5000.0
    cancer.loc[200, ["mean radius", "mean texture"]] = cancer.loc[100, ["mean radius", "mean texture"]].values
    write(cancer, out, "cancer")

    oracle = {
        "wine_rows": len(wine),
        "cancer_rows": len(cancer),
        "wine_magnesium": stats(wine["magnesium"]),
        "wine_alcohol": stats(wine["alcohol"]),
        "cancer_mean_radius": stats(cancer["mean radius"]),
        "grade_shares": {k: float(v) for k, v in wine["grade"].value_counts(normalize=True).items()},
        "cancer_radius_texture_duplicates": int(
            cancer[["mean radius", "mean texture"]].dropna().duplicated(keep="first").sum()
        ),
    }
    with open(os.path.join(out, "oracle.json"), "w") as f:
        json.dump(oracle, f, indent=1)


if __name__ == "__main__":
    main()
