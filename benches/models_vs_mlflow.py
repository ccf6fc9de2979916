#!/usr/bin/env python3
"""Models through the real MLflow client, `kiroku serve` against MLflow's own server (`mlflow
server`, SQLite backend, 1 worker) in one go:

  * `mlflow.sklearn.log_model` of a small LogisticRegression (create the logged model, upload
    its files, finalize; a fresh run each time), interleaved between the servers, median of
    ROUNDS calls each; target: kiroku no slower than MLflow's server (ratio >= 1.0);
  * registry searches over 10,000 model versions (100 models x 100 versions, seeded straight
    into MLflow's schema, then imported into kiroku with `kiroku import mlflow`): every version
    through `search_model_versions` paging, one model's versions by name, and registered models
    with a LIKE filter; best of REPEATS; target: kiroku >= 5x faster. Each case is broken down:
    the same request from a bare HTTP client (the server's own time), the answer's size, and the
    MLflow client's parsing of that answer alone (json.loads, its parse_dict into the response
    message, entities): end to end, that parsing (over a second for 10,000 versions, alike for
    both servers' answers) is a floor no server goes below.

    cargo build --release && python3 benches/models_vs_mlflow.py [--kiroku target/release/kiroku]
"""
import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mlflow_server import start_mlflow_server, start_printing_url, stop_all, wait_healthy  # noqa: E402

warnings.filterwarnings("ignore")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"

MODELS = int(os.environ.get("BENCH_MODELS", 100))
VERSIONS_PER_MODEL = int(os.environ.get("BENCH_VERSIONS_PER_MODEL", 100))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 5))
REPEATS = 3


def seed(db_path):
    """100 registered models with 100 versions each, in MLflow's own schema (made by its
    SQLAlchemy store), rows written in bulk."""
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    SqlAlchemyStore(f"sqlite:///{db_path}")
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as Tracking

    Tracking(f"sqlite:///{db_path}", os.path.join(os.path.dirname(db_path), "seed-art"))
    conn = sqlite3.connect(db_path)
    now = 1_700_000_000_000
    conn.executemany(
        "INSERT INTO registered_models (name, creation_time, last_updated_time, description, workspace) VALUES (?, ?, ?, '', 'default')",
        [(f"model-{m:03d}", now + m, now + m) for m in range(MODELS)])
    conn.executemany(
        "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, source, run_id, status, status_message, run_link, storage_location, workspace)"
        " VALUES (?, ?, ?, ?, '', 'bench', 'None', ?, ?, 'READY', NULL, '', ?, 'default')",
        [(f"model-{m:03d}", v, now + v, now + v, f"s3://bucket/model-{m:03d}/{v}", f"{m:016x}{v:016x}", f"s3://bucket/model-{m:03d}/{v}")
         for m in range(MODELS) for v in range(1, VERSIONS_PER_MODEL + 1)])
    conn.commit()
    conn.close()


def best_of(fn):
    best, result = None, None
    for _ in range(REPEATS):
        t = time.perf_counter()
        result = fn()
        took = time.perf_counter() - t
        best = took if best is None else min(best, took)
    return best, result


def searches(url):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url, registry_uri=url)

    def all_versions():
        n, token = 0, None
        while True:
            page = client.search_model_versions(max_results=10_000, page_token=token)
            n += len(page)
            token = page.token
            if not token:
                return n

    out = {}
    out["all_versions_s"], out["all_versions"] = best_of(all_versions)
    out["one_model_s"], n = best_of(lambda: len(client.search_model_versions("name = 'model-042'")))
    out["one_model"] = n
    out["models_like_s"], n = best_of(lambda: len(client.search_registered_models("name LIKE 'model-0%'", max_results=1000)))
    out["models_like"] = n
    # The same requests from a bare HTTP client: the servers' own time, without the MLflow
    # client's protobuf parsing; and that parsing alone, on each server's own answer (json.loads,
    # the client's parse_dict into the response message, entities), with the answer's size.
    import urllib.request

    from mlflow.entities.model_registry import ModelVersion, RegisteredModel
    from mlflow.protos.model_registry_pb2 import SearchModelVersions, SearchRegisteredModels
    from mlflow.utils.proto_json_utils import parse_dict

    def fetch(path):
        with urllib.request.urlopen(f"{url}/api/2.0/mlflow/{path}") as r:
            return r.read()

    def parse(body, response, field, entity):
        message = response()
        parse_dict(json.loads(body), message)
        return len([entity.from_proto(p) for p in getattr(message, field)])

    cases = {
        "all_versions": ("model-versions/search?max_results=10000",
                         SearchModelVersions.Response, "model_versions", ModelVersion),
        "one_model": ("model-versions/search?filter=name%3D%27model-042%27",
                      SearchModelVersions.Response, "model_versions", ModelVersion),
        "models_like": ("registered-models/search?filter=name+LIKE+%27model-0%25%27&max_results=1000",
                        SearchRegisteredModels.Response, "registered_models", RegisteredModel),
    }
    for key, (path, response, field, entity) in cases.items():
        out[f"raw_{key}_s"], body = best_of(lambda: fetch(path))
        out[f"bytes_{key}"] = len(body)
        out[f"parse_{key}_s"], _ = best_of(lambda: parse(body, response, field, entity))
    return out


def log_model_once(url, experiment):
    import mlflow
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(url)
    mlflow.set_experiment(experiment)
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    model = LogisticRegression().fit(X, [0, 0, 1, 1])
    with mlflow.start_run():
        t = time.perf_counter()
        mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiroku", default="target/release/kiroku")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    kiroku = os.path.abspath(args.kiroku)
    work = tempfile.mkdtemp(prefix="kiroku-models-bench-")
    procs = []
    try:
        print(f"seeding {MODELS * VERSIONS_PER_MODEL} versions ...", flush=True)
        seed_db = os.path.join(work, "seed.db")
        seed(seed_db)
        mlflow_db = os.path.join(work, "mlflow.db")
        shutil.copy(seed_db, mlflow_db)
        store = os.path.join(work, "kiroku")
        subprocess.run([kiroku, "--store", store, "init"], check=True, stdout=subprocess.DEVNULL)
        t = time.time()
        subprocess.run([kiroku, "--store", store, "import", "mlflow", seed_db], check=True, stdout=subprocess.DEVNULL)
        print(f"  imported into kiroku in {time.time() - t:.1f}s", flush=True)

        mlflow_proc, mlflow_url = start_mlflow_server(mlflow_db, os.path.join(work, "mlart"))
        procs.append(mlflow_proc)
        kiroku_proc, kiroku_url = start_printing_url([kiroku, "--store", store, "serve", "--bind", "127.0.0.1:0"])
        procs.append(kiroku_proc)
        wait_healthy(mlflow_url, mlflow_proc)
        wait_healthy(kiroku_url, kiroku_proc)
        servers = {"kiroku": kiroku_url, "mlflow": mlflow_url}

        print(f"log_model: {ROUNDS} interleaved rounds ...", flush=True)
        for url in servers.values():
            log_model_once(url, "warm-up")
        times = {name: [] for name in servers}
        for _ in range(ROUNDS):
            for name, url in servers.items():
                times[name].append(log_model_once(url, "log-model"))
        results = {name: {"log_model_s": statistics.median(t)} for name, t in times.items()}
        for name, url in servers.items():
            print(f"registry searches against {name} ...", flush=True)
            results[name].update(searches(url))
        print(json.dumps(results), flush=True)

        k, m = results["kiroku"], results["mlflow"]
        for key in ("all_versions", "one_model", "models_like"):
            assert k[key] == m[key], (key, k[key], m[key])
        ratios = {
            "log_model_speed_vs_mlflow": m["log_model_s"] / k["log_model_s"],
            "all_versions_speedup": m["all_versions_s"] / k["all_versions_s"],
            "one_model_speedup": m["one_model_s"] / k["one_model_s"],
            "models_like_speedup": m["models_like_s"] / k["models_like_s"],
        }
        for key in ("all_versions", "one_model", "models_like"):
            ratios[f"raw_{key}_speedup"] = m[f"raw_{key}_s"] / k[f"raw_{key}_s"]
        targets = {"log_model_speed_vs_mlflow": 1.0, "all_versions_speedup": 5.0,
                   "one_model_speedup": 5.0, "models_like_speedup": 5.0,
                   "raw_all_versions_speedup": 5.0, "raw_one_model_speedup": 5.0,
                   "raw_models_like_speedup": 5.0}
        print()
        print(f"{'':36}{'kiroku':>10}{'mlflow':>10}")
        print(f"{'log_model (sklearn) s, median':36}{k['log_model_s']:10.3f}{m['log_model_s']:10.3f}")
        print(f"{'search_model_versions all ' + str(k['all_versions']) + ' s':36}{k['all_versions_s']:10.3f}{m['all_versions_s']:10.3f}")
        print(f"{'search_model_versions one model s':36}{k['one_model_s']:10.3f}{m['one_model_s']:10.3f}")
        print(f"{'search_registered_models LIKE s':36}{k['models_like_s']:10.3f}{m['models_like_s']:10.3f}")
        for key in ("all_versions", "one_model", "models_like"):
            print(f"{'  ' + key + ': server (raw REST) s':36}{k['raw_' + key + '_s']:10.3f}{m['raw_' + key + '_s']:10.3f}")
            print(f"{'  ' + key + ': answer bytes':36}{k['bytes_' + key]:10d}{m['bytes_' + key]:10d}")
            print(f"{'  ' + key + ': client parse s':36}{k['parse_' + key + '_s']:10.3f}{m['parse_' + key + '_s']:10.3f}")
        print()
        ok = True
        for key, value in ratios.items():
            passed = value >= targets[key]
            ok &= passed
            print(f"{key:36}{value:8.2f}  (target >= {targets[key]}) {'ok' if passed else 'MISSED'}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"results": results, "ratios": ratios}, f, indent=1)
        return 0 if ok else 1
    finally:
        stop_all(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
