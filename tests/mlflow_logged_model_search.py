"""Logged-model search by metrics and params, MLflow's own server against `kiroku serve`: the same
seeded script writes logged models with params and metrics (steps, runs, datasets, ties) through
the mlflow client into both, then sends both the same generated searches: filters
`metrics.<key> <op> <value>`, `params.<key> <op> '<text>'`, `tags.<key> <op> ...` (IN and NOT IN
lists too) and attribute clauses, what MLflow refuses among them,
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
QUERIES = 250
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
        # Tags: `team` (left off some models: a tag clause never matches a model without the
        # key) and `stage` on some; a few models finalized (status filters).
        tags = {"team": rng.choice(["a", "b"])}
        if drawn.random() < 0.2:
            del tags["team"]
        if drawn.random() < 0.5:
            tags["stage"] = drawn.choice(["dev", "Prod", "prod"])
        model = client.create_logged_model(exp, name=f"m{i:02d}", tags=tags, params=params)
        if drawn.random() < 0.3:
            client.finalize_logged_model(model.model_id, drawn.choice(["READY", "FAILED"]))
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


def text_clause(rng, field, values, patterns, listed):
    """`field` compared as text: `=` or `!=` a value, `LIKE` or `ILIKE` a pattern, or `IN` or
    `NOT IN` the list `listed` (its inside)."""
    form = rng.random()
    if form < 0.35:
        return f"{field} {rng.choice(['=', '!='])} '{rng.choice(values)}'"
    if form < 0.55:
        return f"{field} {rng.choice(['LIKE', 'ILIKE', 'like'])} '{rng.choice(patterns)}'"
    return f"{field} {rng.choice(['IN', 'NOT IN', 'in', 'not in'])} ({listed})"


def gen_param_clause(rng):
    """A `params.<key>` clause: MLflow's text comparisons, a list, an unquoted number (read as
    text), a param some models lack, and operators params do not take (an error on both)."""
    key = rng.choice(["lr", "opt", "opt", "missing"])
    form = rng.random()
    if form < 0.75:
        values = LRS if key == "lr" else ["adam", "Adam", "sgd", "x"]
        listed = ", ".join(f"'{v}'" for v in rng.sample(LRS + ["adam", "sgd"], 2))
        return text_clause(rng, f"params.{key}", values, ["a%", "A%", "%d%", "0.0%"], listed)
    if form < 0.85:
        return f"params.lr = {rng.choice(LRS)}"
    return f"params.{key} {rng.choice(['>', '<='])} '1'"


def in_list(rng, values):
    """The inside of an IN list as MLflow reads it (a Python literal): one value or several, in
    either quotes, a trailing comma, numbers, or nothing."""
    listed = [rng.choice(["'{}'", '"{}"']).format(v) for v in rng.sample(values, rng.randrange(1, 4))]
    if rng.random() < 0.1:
        listed = ["1", "2"]
    inside = ", ".join(listed)
    if len(listed) == 1 or rng.random() < 0.2:
        inside += ","
    return "" if rng.random() < 0.05 else inside


def gen_tag_clause(rng):
    """A `tags.<key>` clause: every text operator MLflow takes (IN and NOT IN lists of every
    shape), a key some models lack, a backquoted key, and what MLflow refuses (`tag.`, an order
    comparison, IN without a list)."""
    key = rng.choice(["team", "stage", "stage", "`stage`", "missing"])
    values = ["a", "b", "dev", "prod", "Prod", "x"]
    if rng.random() < 0.8:
        return text_clause(rng, f"tags.{key}", values, ["p%", "P%", "%o%", "a"], in_list(rng, values))
    refused = [f"tag.{key} = 'a'", f"tags.{key} {rng.choice(['<', '>='])} 'b'", f"tags.{key} IN '{rng.choice(values)}'"]
    return rng.choice(refused)


def gen_attribute_clause(rng):
    """An attribute clause: names, MLflow's numeric status, unset run and type, lists, timestamps,
    and operators an attribute does not take."""
    return rng.choice([
        f"name LIKE 'm{rng.randrange(0, 3)}%'",
        f"name {rng.choice(['IN', 'NOT IN'])} ('m01', 'm02', 'm1{rng.randrange(0, 9)}')",
        f"status {rng.choice(['=', '!='])} {rng.choice([1, 2, 3])}",
        f"status IN ('2', 3)",
        "status = 'READY'",
        f"source_run_id {rng.choice(['=', '!='])} ''",
        "model_type NOT IN ('x')",
        f"creation_timestamp {rng.choice(['>', '<=', '!='])} 0",
        "creation_time IN (1, 2)",
        "name > 'm1'",
        "attributes.name ILIKE 'M0%'",
    ])


def gen_query(rng):
    clauses = []
    for _ in range(rng.randrange(0, 3)):
        kind = rng.random()
        if kind < 0.55:
            op = rng.choice(["=", "!=", "<", "<=", ">", ">="])
            clauses.append(f"metrics.{rng.choice(KEYS)} {op} {rng.choice([0.1, 0.5, 0.75, 0, -1, 1])}")
        elif kind < 0.75:
            clauses.append(gen_tag_clause(rng))
        elif kind < 0.9:
            clauses.append(gen_param_clause(rng))
        else:
            clauses.append(gen_attribute_clause(rng))
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
