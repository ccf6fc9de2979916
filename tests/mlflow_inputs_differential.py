#!/usr/bin/env python3
"""Differential test of runs' dataset inputs: MLflow's own server against `kiroku serve`.

    python3 tests/mlflow_inputs_differential.py KIROKU_BINARY WORK_DIR

1. Starts `mlflow server` (SQLite backend in WORK_DIR) and `kiroku serve` (an empty store) and
   logs the same runs into both with the real mlflow client: `mlflow.log_input` of pandas and
   numpy datasets, with and without a source path, a context and extra input tags, names with
   odd characters, the same dataset twice, a run without inputs.
2. Imports MLflow's database into a second kiroku store and serves it, and writes the same
   runs into an `mlruns` FileStore through the client and imports that into a third.
3. Reads every run back from each server with `get_run` and `search_runs` and compares its
   `inputs.dataset_inputs` with what MLflow's server (or, for the FileStore, MLflow reading
   that store) answers: dataset name, digest, source_type, source, schema, profile and the
   input's tags. MLflow leaves the order of a run's inputs undetermined, so they are compared
   as sorted lists.

Prints one JSON line: the number of runs and inputs compared and the differences found.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benches"))
from mlflow_server import start_mlflow_server, wait_healthy  # noqa: E402


def log_runs(uri, data_dir):
    """The same runs, whatever the tracking URI; returns their names."""
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("inputs")
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, None, 1.5], "c": ["x", "y", None]})
    path = os.path.join(data_dir, "train.csv")
    if not os.path.exists(path):
        frame.to_csv(path, index=False)
    train = mlflow.data.from_pandas(frame, source=path, name="train")
    held_out = mlflow.data.from_pandas(frame.head(2), name="eval: ünï@v2")
    array = mlflow.data.from_numpy(np.arange(12.0).reshape(4, 3), source=path, name="features")
    no_name = mlflow.data.from_pandas(frame.tail(1))
    names = []
    with mlflow.start_run(run_name="two-inputs"):
        mlflow.log_input(train, context="training")
        mlflow.log_input(held_out, context="eval", tags={"split": "holdout", "note": "it's"})
        mlflow.log_input(train, context="training")  # the same again changes nothing
    names.append("two-inputs")
    with mlflow.start_run(run_name="numpy-no-context"):
        mlflow.log_input(array)
        mlflow.log_input(no_name, context="scoring")
    names.append("numpy-no-context")
    with mlflow.start_run(run_name="no-inputs"):
        mlflow.log_param("x", "1")
    names.append("no-inputs")
    return names


def inputs_of(run):
    """A run's dataset inputs, as comparable (sorted) data."""
    out = []
    for d in run.inputs.dataset_inputs:
        ds = d.dataset
        out.append([ds.name, ds.digest, ds.source_type, ds.source, ds.schema or "", ds.profile or "",
                    sorted([t.key, t.value] for t in d.tags)])
    return sorted(out)


def answers(client, names):
    """Each run's inputs by name, through get_run and through search_runs."""
    exp = client.get_experiment_by_name("inputs")
    found = client.search_runs([exp.experiment_id], max_results=100)
    by_name = {r.info.run_name: r for r in found}
    out = {}
    for name in names:
        searched = by_name.get(name)
        got = client.get_run(searched.info.run_id) if searched else None
        out[name] = {"get_run": inputs_of(got) if got else None,
                     "search_runs": inputs_of(searched) if searched else None}
    return out


def serve_kiroku(kiroku, store, procs):
    proc = subprocess.Popen([kiroku, "--store", store, "serve", "--bind", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    procs.append(proc)
    line = proc.stdout.readline()
    url = line[line.find("http://"):].split()[0]
    wait_healthy(url, proc)
    return url


def main():
    kiroku, work = sys.argv[1], sys.argv[2]
    procs = []
    tally = {"runs": 0, "inputs": 0, "differences": 0, "examples": []}

    def compare(kind, expected, got):
        for name, want in expected.items():
            for route in ("get_run", "search_runs"):
                tally["runs"] += 1
                tally["inputs"] += len(want[route] or [])
                if got[name][route] != want[route]:
                    tally["differences"] += 1
                    if len(tally["examples"]) < 10:
                        tally["examples"].append({"kind": kind, "run": name, "route": route,
                                                  "mlflow": want[route], "kiroku": got[name][route]})

    try:
        data_dir = os.path.join(work, "data")
        os.makedirs(data_dir, exist_ok=True)
        db = os.path.join(work, "mlflow.db")
        mlflow_proc, mlflow_url = start_mlflow_server(
            db, os.path.join(work, "mlart"), os.path.join(work, "mlflow.log"))
        procs.append(mlflow_proc)
        wait_healthy(mlflow_url, procs[-1])

        live = os.path.join(work, "kiroku-live")
        subprocess.run([kiroku, "--store", live, "init"], check=True, stdout=subprocess.DEVNULL)
        live_url = serve_kiroku(kiroku, live, procs)

        names = log_runs(mlflow_url, data_dir)
        log_runs(live_url, data_dir)
        expected = answers(MlflowClient(tracking_uri=mlflow_url), names)
        compare("logged through kiroku serve", expected, answers(MlflowClient(tracking_uri=live_url), names))

        imported = os.path.join(work, "kiroku-imported")
        subprocess.run([kiroku, "--store", imported, "init"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([kiroku, "--store", imported, "import", "mlflow", db], check=True,
                       stdout=subprocess.DEVNULL)
        compare("imported from mlflow.db", expected,
                answers(MlflowClient(tracking_uri=serve_kiroku(kiroku, imported, procs)), names))

        mlruns = os.path.join(work, "mlruns")
        log_runs("file://" + mlruns, data_dir)
        expected_files = answers(MlflowClient(tracking_uri="file://" + mlruns), names)
        from_files = os.path.join(work, "kiroku-files")
        subprocess.run([kiroku, "--store", from_files, "init"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([kiroku, "--store", from_files, "import", "mlflow", mlruns], check=True,
                       stdout=subprocess.DEVNULL)
        compare("imported from mlruns", expected_files,
                answers(MlflowClient(tracking_uri=serve_kiroku(kiroku, from_files, procs)), names))
        print(json.dumps(tally))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(os.path.join(work, "mlart"), ignore_errors=True)


if __name__ == "__main__":
    main()
