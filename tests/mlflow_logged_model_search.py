"""Logged-model search by metrics and params, MLflow's own server against `kiroku serve`: the same
seeded script writes logged models with params and metrics (steps, runs, datasets, ties) through
the mlflow client into both, then sends both the same generated searches: filters
`metrics.<key> <op> <value>` and `params.<key> <op> '<text>'` (with attribute and tag clauses),
`datasets`, and `order_by` on metrics (with
`dataset_name`/`dataset_digest`) and attributes, paged. Answers are compared as the ordered
model names of every page; an error must be an error on both. Prints one JSON line: {queries,
differences, errors, examples}.

Usage: mlflow_logged_model_search.py KIROKU_BIN WORK_DIR [SEED]"""
import json, os, random, subprocess, sys, time, warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benches"))
from mlflow_server import start_mlflow_server, start_printing_url, stop_all, wait_healthy  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

MODELS = 24
QUERIES = 150
KEYS = ["acc", "loss", "f1"]
LRS = ["0.1", "0.01", "0.001"]
DATASETS = [("train", "d1"), ("holdout", "d2"), ("holdout", "d3")]
# Searches may also name a dataset without its digest (the client logs none such).
SEARCHED = DATASETS + [("holdout", None)]
BASE_MS = 1_700_000_000_000


def seed(client, rng):
    """The same logged models and metrics, whatever the server (rng fresh for each)."""
    exp = client.create_experiment("lm-search")
    runs = [client.create_run(exp).info.run_id for _ in range(3)]
    for i in range(MODELS):
        # Params: `lr` on every model, `opt` on some (case varies: LIKE and ILIKE differ); from
        # a generator of their own, so the metrics drawn below stay as they were.
        drawn = random.Random(1000 + i)
        params = {"lr": drawn.choice(LRS)}
        if drawn.random() < 0.7:
            params["opt"] = drawn.choice(["adam", "Adam", "sgd"])
        model = client.create_logged_model(exp, name=f"m{i:02d}", tags={"team": rng.choice(["a", "b"])},
                                           params=params)
        for _ in range(rng.randrange(0, 6)):
            key = rng.choice(KEYS)
            # Few distinct values: ties are frequent.
            value = rng.choice([0.1, 0.25, 0.5, 0.75, 0.9, 1.0, -1.0])
            dataset = rng.choice([None] + DATASETS)
            client.log_metric(rng.choice(runs), key, value, timestamp=BASE_MS + rng.randrange(0, 5),
                              step=rng.randrange(0, 3), model_id=model.model_id,
                              dataset_name=dataset and dataset[0], dataset_digest=dataset and dataset[1])
        time.sleep(0.003)  # distinct creation times: the default order's tiebreak is by id
    return exp


def gen_param_clause(rng):
    """A `params.<key>` clause: MLflow's text comparisons, a list, an unquoted number (read as
    text), a param some models lack, and operators params do not take (an error on both)."""
    key = rng.choice(["lr", "opt", "opt", "missing"])
    value = rng.choice(LRS) if key == "lr" else rng.choice(["adam", "Adam", "sgd", "x"])
    form = rng.random()
    if form < 0.35:
        return f"params.{key} {rng.choice(['=', '!='])} '{value}'"
    if form < 0.55:
        return f"params.{key} {rng.choice(['LIKE', 'ILIKE'])} '{rng.choice(['a%', 'A%', '%d%', '0.0%'])}'"
    if form < 0.75:
        values = ", ".join(f"'{v}'" for v in rng.sample(LRS + ["adam", "sgd"], 2))
        return f"params.{key} {rng.choice(['IN', 'NOT IN'])} ({values})"
    if form < 0.85:
        return f"params.lr = {rng.choice(LRS)}"
    return f"params.{key} {rng.choice(['>', '<='])} '1'"


def gen_query(rng):
    clauses = []
    for _ in range(rng.randrange(0, 3)):
        kind = rng.random()
        if kind < 0.55:
            op = rng.choice(["=", "!=", "<", "<=", ">", ">="])
            clauses.append(f"metrics.{rng.choice(KEYS)} {op} {rng.choice([0.1, 0.5, 0.75, 0, -1, 1])}")
        elif kind < 0.7:
            clauses.append(f"tags.team = '{rng.choice(['a', 'b'])}'")
        elif kind < 0.9:
            clauses.append(gen_param_clause(rng))
        else:
            clauses.append(f"name LIKE 'm{rng.randrange(0, 3)}%'")
    order = []
    for _ in range(rng.randrange(0, 3)):
        if rng.random() < 0.7:
            key = {"field_name": f"metrics.{rng.choice(KEYS)}", "ascending": rng.random() < 0.5}
            if rng.random() < 0.3:
                name, digest = rng.choice(SEARCHED)
                key["dataset_name"] = name
                if digest and rng.random() < 0.5:
                    key["dataset_digest"] = digest
            order.append(key)
        else:
            # (Not model_id: the two servers give the same model different ids.)
            order.append({"field_name": rng.choice(["name", "creation_timestamp"]),
                          "ascending": rng.random() < 0.5})
    datasets = None
    if rng.random() < 0.25:
        datasets = []
        for name, digest in rng.sample(SEARCHED, rng.randrange(1, 3)):
            d = {"dataset_name": name}
            if digest and rng.random() < 0.7:
                d["dataset_digest"] = digest
            datasets.append(d)
    return {"filter_string": " AND ".join(clauses) or None, "order_by": order or None,
            "datasets": datasets, "max_results": rng.choice([5, 10, 100])}


def answer(client, exp, q):
    """Every page's model names, or the error's code."""
    pages, token = [], None
    try:
        for _ in range(10):
            page = client.search_logged_models([exp], page_token=token, **q)
            pages.append([m.name for m in page])
            token = page.token
            if not token:
                break
    except MlflowException as e:
        return {"error": e.error_code}
    return pages


def main():
    kiroku, work = sys.argv[1], sys.argv[2]
    seed_value = int(sys.argv[3]) if len(sys.argv) > 3 else 12
    procs = []
    try:
        mlflow_proc, mlflow_url = start_mlflow_server(f"{work}/mlflow.db", os.path.join(work, "mlart"))
        procs.append(mlflow_proc)
        store = os.path.join(work, "kiroku")
        subprocess.run([kiroku, "--store", store, "init"], check=True, stdout=subprocess.DEVNULL)
        proc, kiroku_url = start_printing_url([kiroku, "--store", store, "serve", "--bind", "127.0.0.1:0"])
        procs.append(proc)
        wait_healthy(kiroku_url, proc)
        wait_healthy(mlflow_url, mlflow_proc)
        ml, ki = MlflowClient(mlflow_url), MlflowClient(kiroku_url)
        ml_exp = seed(ml, random.Random(seed_value))
        ki_exp = seed(ki, random.Random(seed_value))
        rng = random.Random(seed_value + 1)
        tally = {"queries": 0, "differences": 0, "errors": 0, "examples": []}
        for _ in range(QUERIES):
            q = gen_query(rng)
            a, b = answer(ml, ml_exp, q), answer(ki, ki_exp, q)
            tally["queries"] += 1
            if isinstance(a, dict):
                tally["errors"] += 1
            if a != b:
                tally["differences"] += 1
                if len(tally["examples"]) < 5:
                    tally["examples"].append({"query": q, "mlflow": a, "kiroku": b})
        print(json.dumps(tally))
    finally:
        stop_all(procs)


if __name__ == "__main__":
    main()
