#!/usr/bin/env python3
"""Models through the real MLflow client, `kiroku serve` against MLflow's own server (`mlflow
server`, SQLite backend, 1 worker) in one go:

  * `mlflow.sklearn.log_model` of a small LogisticRegression (create the logged model, upload
    its files, finalize; a fresh run each time), interleaved between the servers, median of
    ROUNDS calls each; target: kiroku no slower than MLflow's server (ratio >= 1.0);
  * registry searches in a registry of 10,000 model versions (100 models x 100 versions, each
    version with a `dataset` tag and every tenth `validated`, each model a `team` tag; seeded
    straight into MLflow's schema, then imported into kiroku with `kiroku import mlflow`): every
    version (one 10,000-version page, and ten pages of 1,000 through `page_token`), and the
    selective searches a registry user makes (by name, run_id, tag, name LIKE across models,
    version number, source, an ordered short page, a small default page; registered models by
    LIKE, tag and an ordered page). Target: kiroku >= 5x faster, each query.

Each query is timed three ways, median of its repeats: through the MLflow client against
kiroku, against MLflow's server, and against a canned server (`kiroku dev null-mlflow
--replay`) that answers the client's exact requests with the very bytes kiroku answered,
from memory: what the client itself costs for those answers (HTTP, json.loads, protobuf
parsing, entities), the floor under any server. Where MLflow's time over the floor is under 5x,
the target is out of any server's reach; such a query is reported `floor-bound` (kiroku within
15% of the floor) rather than missed. `server s` is the same requests from a bare keep-alive HTTP
client (the server's own time).

    cargo build --release && python3 benches/models_vs_mlflow.py [--kiroku target/release/kiroku]
"""
import argparse
import gc
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
# Repeats of each search (median): the big ones fewer times.
REPEATS_BIG = int(os.environ.get("BENCH_REPEATS_BIG", 3))
REPEATS_SMALL = int(os.environ.get("BENCH_REPEATS_SMALL", 15))
# BENCH_COMPARE=counts compares only how many entries each server answered (to measure an
# older kiroku whose order differed from MLflow's); by default the entries and their order.
COMPARE_ORDER = os.environ.get("BENCH_COMPARE", "order") != "counts"
TARGET = 5.0
FLOOR_SLACK = 1.15
NOW = 1_700_000_000_000


def run_id_of(m, v):
    return f"{m:016x}{v:016x}"


def seed(db_path):
    """100 registered models with 100 versions each, with tags, in MLflow's own schema (made by
    its SQLAlchemy store), rows written in bulk."""
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    SqlAlchemyStore(f"sqlite:///{db_path}")
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as Tracking

    Tracking(f"sqlite:///{db_path}", os.path.join(os.path.dirname(db_path), "seed-art"))
    conn = sqlite3.connect(db_path)
    conn.executemany(
        "INSERT INTO registered_models (name, creation_time, last_updated_time, description, workspace) VALUES (?, ?, ?, '', 'default')",
        [(f"model-{m:03d}", NOW + m, NOW + m) for m in range(MODELS)])
    conn.executemany(
        "INSERT INTO registered_model_tags (key, value, name, workspace) VALUES ('team', ?, ?, 'default')",
        [(f"team-{m % 10}", f"model-{m:03d}") for m in range(MODELS)])
    conn.executemany(
        "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, source, run_id, status, status_message, run_link, storage_location, workspace)"
        " VALUES (?, ?, ?, ?, '', 'bench', 'None', ?, ?, 'READY', NULL, '', ?, 'default')",
        [(f"model-{m:03d}", v, NOW + m * 1000 + v, NOW + m * 1000 + v, f"s3://bucket/model-{m:03d}/{v}", run_id_of(m, v), f"s3://bucket/model-{m:03d}/{v}")
         for m in range(MODELS) for v in range(1, VERSIONS_PER_MODEL + 1)])
    tags = [("dataset", f"d{v % 20}", f"model-{m:03d}", v) for m in range(MODELS) for v in range(1, VERSIONS_PER_MODEL + 1)]
    tags += [("validated", "yes", f"model-{m:03d}", v) for m in range(MODELS) for v in range(10, VERSIONS_PER_MODEL + 1, 10)]
    conn.executemany(
        "INSERT INTO model_version_tags (key, value, name, version, workspace) VALUES (?, ?, ?, ?, 'default')", tags)
    conn.commit()
    conn.close()


def median_of(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        took, result = timed_call(fn)
        times.append(took)
    return statistics.median(times), result


def version_keys(versions):
    return [(v.name, int(v.version)) for v in versions]


def all_versions(client, page_size):
    keys, token = [], None
    while True:
        page = client.search_model_versions(max_results=page_size, page_token=token)
        keys += version_keys(page)
        token = page.token
        if not token:
            return keys


# name -> (big?, what the client does). Each returns what it read, in order ((name, version)
# of versions, names of models), so both servers' answers can be compared entry by entry.
QUERIES = {
    "all_versions": (True, lambda c: all_versions(c, 10_000)),
    "all_versions_pages_1000": (True, lambda c: all_versions(c, 1000)),
    "versions_one_model": (False, lambda c: version_keys(c.search_model_versions("name = 'model-042'"))),
    "versions_by_run_id": (False, lambda c: version_keys(c.search_model_versions(f"run_id = '{run_id_of(42, 7)}'"))),
    "versions_by_tag": (False, lambda c: version_keys(c.search_model_versions("tags.validated = 'yes'"))),
    "versions_name_like": (False, lambda c: version_keys(c.search_model_versions("name LIKE 'model-04%'"))),
    "versions_by_number": (False, lambda c: version_keys(c.search_model_versions("version_number = 42"))),
    "versions_by_source": (False, lambda c: version_keys(c.search_model_versions("source_path = 's3://bucket/model-042/42'"))),
    "versions_ordered_page": (False, lambda c: version_keys(c.search_model_versions(
        "tags.dataset = 'd7'", order_by=["creation_timestamp DESC"], max_results=50))),
    "versions_small_page": (False, lambda c: version_keys(c.search_model_versions(max_results=10))),
    "models_like": (False, lambda c: [m.name for m in c.search_registered_models("name LIKE 'model-0%'", max_results=1000)]),
    "models_by_tag": (False, lambda c: [m.name for m in c.search_registered_models("tags.team = 'team-3'")]),
    "models_ordered_page": (False, lambda c: [m.name for m in c.search_registered_models(
        order_by=["last_updated_timestamp DESC"], max_results=10)]),
}


def timed_call(fn):
    """One call's seconds, the garbage collector held off during it (as `timeit` does), so a
    collection of an earlier call's garbage is not charged to whichever server comes next."""
    gc.collect()
    gc.disable()
    try:
        t = time.perf_counter()
        result = fn()
        return time.perf_counter() - t, result
    finally:
        gc.enable()


class Recorder:
    """Records every request the MLflow client sends (through `requests`) with the answer's
    bytes, as `kiroku dev null-mlflow --replay` reads them."""

    def __init__(self):
        self.exchanges = {}

    def __enter__(self):
        import requests

        self.original = requests.Session.request
        recorder = self

        def request(session, method, url, *args, **kwargs):
            response = recorder.original(session, method, url, *args, **kwargs)
            sent = response.request
            body = sent.body or b""
            body = body.decode() if isinstance(body, bytes) else body
            recorder.exchanges[(sent.method, sent.path_url, body)] = response.content
            return response

        requests.Session.request = request
        return self

    def __exit__(self, *exc):
        import requests

        requests.Session.request = self.original



def record(urls):
    """Each query once through the MLflow client against each server: what it read, and the
    exact requests it sent with the answers' bytes (kiroku's go to the canned server)."""
    from mlflow import MlflowClient

    out = {name: {} for name in urls}
    for server, url in urls.items():
        client = MlflowClient(tracking_uri=url, registry_uri=url)
        for query_name, (_, query) in QUERIES.items():
            query(client)  # warm-up (connection, caches)
            recorder = Recorder()
            with recorder:
                out[server][query_name] = query(client)
            out[server][f"exchanges_{query_name}"] = recorder.exchanges
    return out


def timed(urls, recorded):
    """Each query through the MLflow client, the servers interleaved round by round so machine
    noise hits them alike (median of the rounds); then the same requests from a bare keep-alive
    HTTP client (the server's own time) and the answers' size."""
    import requests
    from mlflow import MlflowClient

    clients = {name: MlflowClient(tracking_uri=url, registry_uri=url) for name, url in urls.items()}
    sessions = {name: requests.Session() for name in urls}
    out = {name: {} for name in urls}
    for query_name, (big, query) in QUERIES.items():
        times = {name: [] for name in urls}
        for _ in range(REPEATS_BIG if big else REPEATS_SMALL):
            for name, client in clients.items():
                took, found = timed_call(lambda: query(client))
                times[name].append(took)
                assert len(found) == len(recorded["kiroku"][query_name]), (name, query_name, len(found))
        for name in urls:
            out[name][f"{query_name}_s"] = statistics.median(times[name])
            out[name][query_name] = len(recorded["kiroku"][query_name])
        for name in ("kiroku", "mlflow"):
            exchanges = recorded[name][f"exchanges_{query_name}"]
            session, url = sessions[name], urls[name]

            def raw():
                return sum(len(session.request(m, url + uri, data=body or None).content)
                           for (m, uri, body) in exchanges)

            raw()
            out[name][f"raw_{query_name}_s"], out[name][f"bytes_{query_name}"] = median_of(
                raw, REPEATS_BIG if big else REPEATS_SMALL)
            out[name][f"requests_{query_name}"] = len(exchanges)
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
        print("registry searches: recording each query's requests and answers ...", flush=True)
        recorded = record(servers)
        for key in QUERIES:
            # The same entries in the same order, page after page: MLflow's semantics.
            k_found, m_found = recorded["kiroku"][key], recorded["mlflow"][key]
            if COMPARE_ORDER:
                assert k_found == m_found, (key, len(k_found), len(m_found), k_found[:5], m_found[:5])
            else:
                assert len(k_found) == len(m_found), (key, len(k_found), len(m_found))
        replay_file = os.path.join(work, "kiroku-answers.jsonl")
        with open(replay_file, "w") as fh:
            # `/health` too, so that the canned server is waited for like the others.
            fh.write(json.dumps({"method": "GET", "uri": "/health", "body": "", "answer": "OK"}) + "\n")
            for key in QUERIES:
                for (method, uri, body), answer in recorded["kiroku"][f"exchanges_{key}"].items():
                    fh.write(json.dumps({"method": method, "uri": uri, "body": body, "answer": answer.decode()}) + "\n")
        canned_proc, canned_url = start_printing_url([kiroku, "dev", "null-mlflow", "--bind", "127.0.0.1:0", "--replay", replay_file])
        procs.append(canned_proc)
        wait_healthy(canned_url, canned_proc)
        print("registry searches: kiroku, MLflow and the canned server (the client's floor), interleaved ...", flush=True)
        searched = timed({**servers, "floor": canned_url}, recorded)
        for name in ("kiroku", "mlflow"):
            results[name].update(searched[name])
        results["floor"] = searched["floor"]
        printable = {name: {k: v for k, v in r.items() if not k.startswith("exchanges_")} for name, r in results.items()}
        print(json.dumps(printable), flush=True)

        k, m, f = results["kiroku"], results["mlflow"], results["floor"]
        print()
        print(f"load: {os.getloadavg()[0]:.2f} (1-minute average)")
        print(f"{'log_model (sklearn) s, median':32}{'kiroku':>9}{'mlflow':>9}  ratio {m['log_model_s'] / k['log_model_s']:.2f} (target >= 1.0)")
        print(f"{'':32}{k['log_model_s']:9.3f}{m['log_model_s']:9.3f}")
        print()
        header = f"{'query (hits, requests)':36}{'kiroku':>9}{'mlflow':>9}{'floor':>9}{'ratio':>7}{'max':>7}" \
                 f"{'k srv':>9}{'m srv':>9}{'k bytes':>10}{'m bytes':>10}  verdict"
        print(header)
        ok = m["log_model_s"] / k["log_model_s"] >= 1.0
        ratios = {"log_model_speed_vs_mlflow": m["log_model_s"] / k["log_model_s"]}
        for key in QUERIES:
            ratio, reach = m[f"{key}_s"] / k[f"{key}_s"], m[f"{key}_s"] / f[f"{key}_s"]
            ratios[key] = ratio
            ratios[f"{key}_max"] = reach
            if ratio >= TARGET:
                verdict = "ok"
            elif reach < TARGET and k[f"{key}_s"] <= FLOOR_SLACK * f[f"{key}_s"]:
                verdict = "floor-bound"
            else:
                verdict, ok = "MISSED", False
            label = f"{key} ({k[key]}, {k['requests_' + key]})"
            print(f"{label:36}{k[key + '_s']:9.4f}{m[key + '_s']:9.4f}{f[key + '_s']:9.4f}{ratio:7.2f}{reach:7.2f}"
                  f"{k['raw_' + key + '_s']:9.4f}{m['raw_' + key + '_s']:9.4f}{k['bytes_' + key]:10d}{m['bytes_' + key]:10d}  {verdict}")
        print(f"(seconds, median; ratio = mlflow / kiroku, target >= {TARGET}; max = mlflow / floor, the most any"
              " server could reach; srv = the same requests from a bare HTTP client)")
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"results": printable, "ratios": ratios}, fh, indent=1)
        return 0 if ok else 1
    finally:
        stop_all(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
