"""Helper of benches/checks_vs_gx.sh: writes the benchmark's data and suites, and runs the same
12 checks with Great Expectations 1.x on pandas and with plain pandas.

usage:
  python3 benches/checks_vs_gx.py generate DIR ROWS   # DIR/bench.csv, bench.parquet, suite.toml
  python3 benches/checks_vs_gx.py gx CSV              # prints the GX validation's success
  python3 benches/checks_vs_gx.py pandas CSV          # prints the 12 checks' outcomes

The data: ROWS rows, 20 columns (an id, 8 floats, 4 ints, 3 categories, 2 codes, a date, a
flag), about 300 bytes a row, with a few planted nulls, out-of-range values, duplicates, bad
categories and malformed codes so every check has something to count.
"""
import sys

import numpy as np

CHECKS = [
    # (GX expectation type, kwargs, kiroku TOML check)
    ("expect_table_row_count_to_be_between", {"min_value": 1, "max_value": 10**9},
     'type = "row_count"\nmin = 1\nmax = 1000000000'),
    ("expect_column_values_to_not_be_null", {"column": "f0"},
     'type = "not_null"\ncolumn = "f0"'),
    ("expect_column_values_to_be_between", {"column": "f1", "min_value": -80, "max_value": 80},
     'type = "between"\ncolumn = "f1"\nmin = -80\nmax = 80'),
    ("expect_column_values_to_be_between", {"column": "i0", "min_value": 0, "max_value": 999},
     'type = "between"\ncolumn = "i0"\nmin = 0\nmax = 999'),
    ("expect_column_values_to_be_unique", {"column": "id"},
     'type = "unique"\ncolumn = "id"'),
    ("expect_column_values_to_be_in_set", {"column": "cat0", "value_set": ["red", "green", "blue", "amber"]},
     'type = "in_set"\ncolumn = "cat0"\nvalues = ["red", "green", "blue", "amber"]'),
    ("expect_column_values_to_not_be_in_set", {"column": "cat1", "value_set": ["banned", "unknown"]},
     'type = "not_in_set"\ncolumn = "cat1"\nvalues = ["banned", "unknown"]'),
    ("expect_column_values_to_match_regex", {"column": "code0", "regex": r"^[A-Z]{2}-\d{6}$"},
     'type = "regex"\ncolumn = "code0"\npattern = \'^[A-Z]{2}-\\d{6}$\''),
    ("expect_column_value_lengths_to_be_between", {"column": "code1", "min_value": 9, "max_value": 9},
     'type = "length"\ncolumn = "code1"\nmin = 9\nmax = 9'),
    ("expect_column_mean_to_be_between", {"column": "f2", "min_value": -1, "max_value": 1},
     'type = "stat"\ncolumn = "f2"\nstat = "mean"\nmin = -1\nmax = 1'),
    ("expect_column_median_to_be_between", {"column": "f3", "min_value": -1, "max_value": 1},
     'type = "stat"\ncolumn = "f3"\nstat = "median"\nmin = -1\nmax = 1'),
    ("expect_column_stdev_to_be_between", {"column": "f4", "min_value": 0.5, "max_value": 2},
     'type = "stat"\ncolumn = "f4"\nstat = "std"\nmin = 0.5\nmax = 2'),
]


def generate(out, rows):
    import pandas as pd

    rng = np.random.default_rng(7)
    data = {"id": np.arange(rows)}
    for i in range(8):
        data[f"f{i}"] = rng.normal(0, 1, rows) * (10 ** (i % 3))
    data["i0"] = rng.integers(0, 1000, rows)
    for i in range(1, 4):
        data[f"i{i}"] = rng.integers(0, 10**12, rows)
    colors = np.array(["red", "green", "blue", "amber"])
    data["cat0"] = colors[rng.integers(0, 4, rows)]
    data["cat1"] = np.array(["alpha", "beta", "gamma"])[rng.integers(0, 3, rows)]
    data["cat2"] = np.array(["north-eastern-region", "south-western-region", "eastern-seaboard", "western-plains", "central-highlands"])[rng.integers(0, 5, rows)]
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    data["code0"] = [f"{a}{b}-{n:06d}" for a, b, n in zip(letters[rng.integers(0, 26, rows)], letters[rng.integers(0, 26, rows)], rng.integers(0, 10**6, rows))]
    data["code1"] = [f"K-{n:07d}" for n in rng.integers(0, 10**7, rows)]
    data["day"] = (np.datetime64("2024-01-01T00:00:00") + rng.integers(0, 365 * 86400, rows).astype("timedelta64[s]")).astype(str)
    data["flag"] = rng.integers(0, 2, rows).astype(bool)
    frame = pd.DataFrame(data)
    # Planted defects.
    every = max(rows // 1000, 1)
    frame.loc[::every, "f0"] = np.nan
    frame.loc[1::every, "f1"] = 500.0
    frame.loc[2::every * 10, "id"] = 0
    frame.loc[3::every, "cat0"] = "purple"
    frame.loc[4::every, "cat1"] = "banned"
    frame.loc[5::every, "code0"] = "bad"
    frame.loc[6::every, "code1"] = "K-1"
    frame.to_csv(f"{out}/bench.csv", index=False)
    frame.to_parquet(f"{out}/bench.parquet", index=False)
    with open(f"{out}/suite.toml", "w") as f:
        f.write('[suite]\nname = "bench"\nkey = ["id"]\n')
        for n, (_, _, toml) in enumerate(CHECKS):
            f.write(f'\n[[check]]\nid = "c{n}"\n{toml}\n')


def run_gx(csv):
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_pandas("bench")
    asset = source.add_csv_asset("bench", filepath_or_buffer=csv)
    batch = asset.add_batch_definition_whole_dataframe("all")
    suite = context.suites.add(gx.ExpectationSuite(name="bench"))
    for name, kwargs, _ in CHECKS:
        cls = "".join(part.capitalize() for part in name.split("_"))
        suite.add_expectation(getattr(gxe, cls)(**kwargs))
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name="bench", data=batch, suite=suite)
    )
    result = validation.run()
    print("gx success:", result.success, "evaluated:", len(result.results))


def run_pandas(csv):
    import pandas as pd

    df = pd.read_csv(csv)
    out = []
    out.append(("rows", len(df)))
    out.append(("f0 nulls", int(df["f0"].isna().sum())))
    f1 = df["f1"].dropna()
    out.append(("f1 outside", int(((f1 < -80) | (f1 > 80)).sum())))
    i0 = df["i0"].dropna()
    out.append(("i0 outside", int(((i0 < 0) | (i0 > 999)).sum())))
    out.append(("id duplicated", int(df["id"].duplicated(keep=False).sum())))
    cat0 = df["cat0"].dropna()
    out.append(("cat0 outside", int((~cat0.isin(["red", "green", "blue", "amber"])).sum())))
    cat1 = df["cat1"].dropna()
    out.append(("cat1 banned", int(cat1.isin(["banned", "unknown"]).sum())))
    code0 = df["code0"].dropna().astype(str)
    out.append(("code0 misses", int((~code0.str.contains(r"^[A-Z]{2}-\d{6}$", regex=True)).sum())))
    code1 = df["code1"].dropna().astype(str).str.len()
    out.append(("code1 lengths", int(((code1 < 9) | (code1 > 9)).sum())))
    out.append(("f2 mean", float(df["f2"].mean())))
    out.append(("f3 median", float(df["f3"].median())))
    out.append(("f4 std", float(df["f4"].std())))
    print("pandas:", out)


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "generate":
        generate(sys.argv[2], int(sys.argv[3]))
    elif command == "gx":
        run_gx(sys.argv[2])
    elif command == "pandas":
        run_pandas(sys.argv[2])
    else:
        sys.exit(f"unknown command {command}")
