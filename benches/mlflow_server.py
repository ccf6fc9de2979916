#!/usr/bin/env python3
"""Server benchmark through the real MLflow Python client, three servers in one go:

  * MLflow's own server (`mlflow server`, SQLite backend, 1 worker),
  * a do-nothing server that answers every MLflow call at once (`kiroku dev null-mlflow`):
    the MLflow client's own ceiling,
  * `kiroku serve`.

The same client workload runs against each, interleaved in rounds so that machine noise hits
all three alike: 1,000-point `log_batch` calls and single
`log_metric` calls (points/s and calls/s, kiroku as a share of the ceiling; target >= 0.8),
then `get_metric_history` of a 100,000-point series and `search_runs` over 2,000 runs with a
metric filter and an order (seconds, MLflow's time / kiroku's; target >= 5), both end to end
through the client (whose own protobuf parsing of 100,000 points takes over a second, a floor
no server can go below) and as the same REST calls from a bare HTTP client. Both stores are
seeded with the same data: MLflow's through its own SQLAlchemy store, kiroku's by importing
that database (`kiroku import mlflow`). Loopback only; every loop is bounded in calls and time.

    cargo build --release && python3 benches/mlflow_server.py [--kiroku target/release/kiroku]
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"

SEARCH_RUNS = 2000
HISTORY_POINTS = 100_000
ROUNDS = 7              # write rounds, servers interleaved so machine noise hits all alike
BATCHES_PER_ROUND = 4   # 1,000-point log_batch calls per server per round
SINGLES_PER_ROUND = 80  # single log_metric calls per server per round
REPEATS = 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url, proc, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up in {seconds}s")


def start_printing_url(cmd, env=None):
    """Starts a server that prints its http:// URL on the first stdout line."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    line = proc.stdout.readline()
    at = line.find("http://")
    if at < 0:
        proc.kill()
        raise RuntimeError(f"{cmd[0]} did not print its address: {line!r}")
    return proc, line[at:].split()[0]


def start_mlflow_server(db_path, artifacts, log_path=None):
    """MLflow's own server (SQLite backend, 1 worker) on a free loopback port, in a session of
    its own (its workers go with it in `stop_all`), its stderr into `log_path` when given;
    returns (process, URL)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{db_path}",
         "--artifacts-destination", artifacts, "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=open(log_path, "w") if log_path else subprocess.DEVNULL,
        start_new_session=True)
    return proc, f"http://127.0.0.1:{port}"


def stop_all(procs):
    """Stops the servers started (MLflow's, first, with its whole session)."""
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM) if p is procs[0] else p.terminate()
            except OSError:
                pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def seed(db_path):
    """The shared data set: 2,000 runs with metric `acc` and param `opt`; one run with a
    100,000-point series `loss`. Written through MLflow's own SQLAlchemy store."""
    from mlflow.entities import Metric, Param
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{db_path}", os.path.join(os.path.dirname(db_path), "seed-art"))
    rnd = random.Random(7)
    exp = store.create_experiment("search")
    for i in range(SEARCH_RUNS):
        run = store.create_run(exp, "bench", 1_700_000_000_000 + i, [], f"r{i:04d}")
        store.log_batch(run.info.run_id,
                        metrics=[Metric("acc", rnd.random(), 1_700_000_000_000 + i, 0)],
                        params=[Param("opt", rnd.choice(["adam", "sgd"]))], tags=[])
    hexp = store.create_experiment("history")
    hrun = store.create_run(hexp, "bench", 1_700_000_000_000, [], "long")
    for start in range(0, HISTORY_POINTS, 1000):
        store.log_batch(hrun.info.run_id, metrics=[
            Metric("loss", 1.0 / (s + 1), 1_700_000_000_000 + s, s) for s in range(start, start + 1000)
        ], params=[], tags=[])
    return hrun.info.run_id


def timed_best(fn):
    best = None
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn()
        took = time.perf_counter() - t
        best = took if best is None else min(best, took)
    return best


class Writer:
    """One server's write workload: a run, and timed segments of log_batch / log_metric calls."""

    def __init__(self, url):
        from mlflow import MlflowClient
        from mlflow.entities import Metric

        self.client = MlflowClient(tracking_uri=url)
        exp = self.client.get_experiment_by_name("throughput")
        exp_id = exp.experiment_id if exp else self.client.create_experiment("throughput")
        self.run_id = self.client.create_run(exp_id).info.run_id
        now = int(time.time() * 1000)
        self.batch = [Metric("x", float(i), now, i) for i in range(1000)]
        self.rates = {"batch": [], "single": []}
        self.steps = 0

    def segment(self):
        t = time.perf_counter()
        for _ in range(BATCHES_PER_ROUND):
            self.client.log_batch(self.run_id, metrics=self.batch)
        self.rates["batch"].append(BATCHES_PER_ROUND * 1000 / (time.perf_counter() - t))
        t = time.perf_counter()
        for _ in range(SINGLES_PER_ROUND):
            self.client.log_metric(self.run_id, "y", float(self.steps), step=self.steps)
            self.steps += 1
        self.rates["single"].append(SINGLES_PER_ROUND / (time.perf_counter() - t))

    def result(self):
        self.client.set_terminated(self.run_id)
        return {"batch_points_per_s": statistics.median(self.rates["batch"]),
                "single_calls_per_s": statistics.median(self.rates["single"])}


def reads(url, history_run):
    """get_metric_history of the 100,000-point series and the 2,000-run search, best of 3,
    through the MLflow client (end to end, the client's protobuf parsing included) and as raw
    REST calls with the same requests (the server's own share)."""
    import requests
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url)
    out = {}
    history = []
    out["history_s"] = timed_best(lambda: history.append(len(client.get_metric_history(history_run, "loss"))))
    out["history_points"] = history[-1]
    search_exp = client.get_experiment_by_name("search").experiment_id
    found = []
    flt, order = "metrics.acc > 0.5 and params.opt = 'adam'", ["metrics.acc DESC"]
    out["search_s"] = timed_best(lambda: found.append(len(client.search_runs([search_exp], flt, order_by=order))))
    out["search_runs"] = found[-1]

    session = requests.Session()

    def raw_history():
        token, n = None, 0
        while True:
            q = {"run_id": history_run, "run_uuid": history_run, "metric_key": "loss", "max_results": 25000}
            if token:
                q["page_token"] = token
            page = session.get(f"{url}/api/2.0/mlflow/metrics/get-history", params=q).json()
            n += len(page.get("metrics", []))
            token = page.get("next_page_token")
            if not token:
                return n

    def raw_search():
        body = {"experiment_ids": [search_exp], "filter": flt, "run_view_type": "ACTIVE_ONLY",
                "max_results": 1000, "order_by": order}
        return len(session.post(f"{url}/api/2.0/mlflow/runs/search", json=body).json().get("runs", []))

    assert raw_history() == out["history_points"]
    assert raw_search() == out["search_runs"]
    out["raw_history_s"] = timed_best(raw_history)
    out["raw_search_s"] = timed_best(raw_search)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiroku", default="target/release/kiroku")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    kiroku = os.path.abspath(args.kiroku)
    work = tempfile.mkdtemp(prefix="kiroku-bench-")
    procs = []
    try:
        print("seeding (MLflow's SQLAlchemy store) ...", flush=True)
        t = time.time()
        seed_db = os.path.join(work, "seed.db")
        history_run = seed(seed_db)
        print(f"  {SEARCH_RUNS} runs + {HISTORY_POINTS} points in {time.time() - t:.1f}s", flush=True)
        mlflow_db = os.path.join(work, "mlflow.db")
        shutil.copy(seed_db, mlflow_db)
        store = os.path.join(work, "kiroku")
        subprocess.run([kiroku, "--store", store, "init"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([kiroku, "--store", store, "import", "mlflow", seed_db], check=True, stdout=subprocess.DEVNULL)

        mlflow_proc, mlflow_url = start_mlflow_server(mlflow_db, os.path.join(work, "mlart"))
        procs.append(mlflow_proc)
        null_proc, null_url = start_printing_url([kiroku, "dev", "null-mlflow", "--bind", "127.0.0.1:0"])
        procs.append(null_proc)
        kiroku_proc, kiroku_url = start_printing_url([kiroku, "--store", store, "serve", "--bind", "127.0.0.1:0"])
        procs.append(kiroku_proc)
        wait_healthy(mlflow_url, mlflow_proc)
        wait_healthy(null_url, null_proc)
        wait_healthy(kiroku_url, kiroku_proc)

        servers = {"null": null_url, "kiroku": kiroku_url, "mlflow": mlflow_url}
        writers = {name: Writer(url) for name, url in servers.items()}
        print(f"write workload: {ROUNDS} interleaved rounds ...", flush=True)
        for r in range(ROUNDS):
            for name in servers:
                # MLflow's server is ~20x slower; it does every other round to bound the time.
                if name != "mlflow" or r % 2 == 0:
                    writers[name].segment()
        results = {name: w.result() for name, w in writers.items()}
        for name in ("kiroku", "mlflow"):
            print(f"read workload against {name} ...", flush=True)
            results[name].update(reads(servers[name], history_run))
        # The client's own floor for reading 100,000 points (the null server's canned series).
        from mlflow import MlflowClient
        null_client = MlflowClient(tracking_uri=null_url)
        results["null"]["history_s"] = timed_best(lambda: null_client.get_metric_history(history_run, "loss"))
        print(json.dumps(results), flush=True)

        k, n, m = results["kiroku"], results["null"], results["mlflow"]
        assert k["history_points"] == m["history_points"] == HISTORY_POINTS, (k, m)
        assert k["search_runs"] == m["search_runs"], (k, m)
        ratios = {
            "batch_vs_ceiling": k["batch_points_per_s"] / n["batch_points_per_s"],
            "single_vs_ceiling": k["single_calls_per_s"] / n["single_calls_per_s"],
            "history_speedup_vs_mlflow": m["history_s"] / k["history_s"],
            "search_speedup_vs_mlflow": m["search_s"] / k["search_s"],
            "raw_history_speedup_vs_mlflow": m["raw_history_s"] / k["raw_history_s"],
            "raw_search_speedup_vs_mlflow": m["raw_search_s"] / k["raw_search_s"],
        }
        targets = {"batch_vs_ceiling": 0.8, "single_vs_ceiling": 0.8,
                   "history_speedup_vs_mlflow": 5.0, "search_speedup_vs_mlflow": 5.0,
                   "raw_history_speedup_vs_mlflow": 5.0, "raw_search_speedup_vs_mlflow": 5.0}
        print()
        print(f"{'':28}{'null':>12}{'kiroku':>12}{'mlflow':>12}")
        print(f"{'log_batch points/s':28}{n['batch_points_per_s']:12.0f}{k['batch_points_per_s']:12.0f}{m['batch_points_per_s']:12.0f}")
        print(f"{'log_metric calls/s':28}{n['single_calls_per_s']:12.1f}{k['single_calls_per_s']:12.1f}{m['single_calls_per_s']:12.1f}")
        print(f"{'get_metric_history 100k s':28}{n['history_s']:12.3f}{k['history_s']:12.3f}{m['history_s']:12.3f}")
        print(f"{'search_runs 2000 runs s':28}{'':>12}{k['search_s']:12.3f}{m['search_s']:12.3f}")
        print(f"{'  raw REST history s':28}{'':>12}{k['raw_history_s']:12.3f}{m['raw_history_s']:12.3f}")
        print(f"{'  raw REST search s':28}{'':>12}{k['raw_search_s']:12.3f}{m['raw_search_s']:12.3f}")
        print()
        ok = True
        for key, value in ratios.items():
            passed = value >= targets[key]
            ok &= passed
            print(f"{key:28}{value:8.2f}  (target >= {targets[key]}) {'ok' if passed else 'MISSED'}")
        print(f"(reading 100,000 points from the do-nothing server took the client {n['history_s']:.3f}s: "
              f"end to end, the client's own parsing dominates every server but MLflow's)")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"results": results, "ratios": ratios}, f, indent=1)
        return 0 if ok else 1
    finally:
        stop_all(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
