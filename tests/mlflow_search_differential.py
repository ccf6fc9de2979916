#!/usr/bin/env python3
"""Differential test of the MLflow search dialect: MLflow's own server against `kiroku serve`.

    python3 tests/mlflow_search_differential.py KIROKU_BINARY WORK_DIR [SEED]

1. Starts `mlflow server` (SQLite backend in WORK_DIR, a free 127.0.0.1 port) and writes a few
   hundred runs through the MLflow client, with the edge cases MLflow users meet: numeric-looking
   and quoted params (`0.001`, `1e-3`, `007`, `it's`, `it''s`), NaN and infinities, missing keys,
   metrics whose latest step is not the newest timestamp, every status, deleted runs, ties in
   start time, unicode and LIKE wildcards in values.
2. Imports the server's `mlflow.db` into a kiroku store (ids kept) and serves it.
3. Generates filters and orders from MLflow's grammar (seeded: every clause kind, operator,
   identifier alias and quoting MLflow documents, plus a few malformed ones) and sends each
   search to both servers through the mlflow client, with random run views, experiment lists
   (sometimes naming an unknown experiment), page sizes (following the pages) and page tokens.
   Then the same for `experiments/search`, compared exactly: MLflow's `Default` experiment and
   every experiment's id, creation and last-update times are imported as MLflow has them.
4. Compares result ids in order, page by page, and error codes. A query MLflow refuses that
   kiroku answers counts as an extension only when the generator wrote it as one of the
   extensions the README documents (its `ext` label); anything else is a difference.

Prints one JSON line: the number of queries, differences (with the first few in full) and
extensions by kind.
"""
import base64
import json
import os
import random
import shutil
import subprocess
import sys
import time

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"

from mlflow import MlflowClient  # noqa: E402

# Starting servers and waiting for them: shared with the server benchmark.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benches"))
from mlflow_server import start_mlflow_server, wait_healthy  # noqa: E402
from mlflow.entities import Metric, Param, RunTag, ViewType  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

RUNS = 160
RUN_QUERIES = 560
EXPERIMENT_QUERIES = 120
BASE_MS = 1_700_000_000_000

PARAM_VALUES = {
    "lr": ["0.001", "1e-3", ".001", "0.0010", "0.01", "1e-2", "0.1"],
    "seed": ["007", "7", "07", "10", "9", "-1", "100"],
    "opt": ["adam", "Adam", "ADAM", "sgd", "it's", "it''s", "100%", "a_b", "aXb", "名前", "ünï"],
    "a-b": ["x", "y", "x y"],
}
TAG_VALUES = {
    "team": ["vision", "nlp", "Vision", "v%", "v_x", ""],
    "q": ["it's", 'say "hi"', "a''b", "x", "it\\'s"],
    "my key": ["one", "two"],
}
METRIC_KEYS = ["acc", "loss", "val/acc", "my metric"]
USERS = ["alice", "bob", "Alice", "名"]
NAMES = ["resnet", "ResNet-50", "bert_base", "bert%", "it's", "ünï", "run name", "a_b"]
STATUSES = ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]


def metric_value(rng):
    r = rng.random()
    if r < 0.08:
        return float("nan")
    if r < 0.12:
        return float("inf")
    if r < 0.15:
        return float("-inf")
    return rng.choice([round(rng.random(), 2), rng.choice([0.0, 0.5, 1.0, -1.0])])


def seed_runs(client, rng):
    """Experiments and runs written through MLflow's server; returns what the generator needs."""
    exp_ids = []
    for i, name in enumerate(["exp-a", "exp_b", "Exp%c"]):
        eid = client.create_experiment(name, tags={"team": ["vision", "nlp", "Vision"][i], "i": str(i)})
        exp_ids.append(eid)
    gone = client.create_experiment("gone", tags={"team": "old"})
    # The deleted experiment holds a run, deleted with it (restoring it brings the run back).
    client.set_terminated(client.create_run(gone, start_time=BASE_MS).info.run_id)
    client.delete_experiment(gone)
    runs = []
    for n in range(RUNS):
        exp = rng.choice(exp_ids)
        start = BASE_MS + rng.randrange(60) * 1000  # ties in start time
        tags = {"mlflow.user": rng.choice(USERS)}
        for k, values in TAG_VALUES.items():
            if rng.random() < 0.7:
                tags[k] = rng.choice(values)
        name = f"{rng.choice(NAMES)}-{n % 7}" if rng.random() < 0.9 else rng.choice(NAMES)
        run = client.create_run(exp, start_time=start, tags=tags, run_name=name)
        rid = run.info.run_id
        params = [Param(k, rng.choice(v)) for k, v in PARAM_VALUES.items() if rng.random() < 0.75]
        metrics = []
        for key in METRIC_KEYS:
            if rng.random() < 0.3:
                continue
            # Points whose latest step is not the newest timestamp, and repeated steps.
            for step in rng.sample(range(5), rng.randrange(1, 4)):
                ts = start + rng.randrange(10_000)
                metrics.append(Metric(key, metric_value(rng), ts, step))
        client.log_batch(rid, metrics=metrics, params=params, tags=[])
        status = rng.choice(STATUSES)
        if status in ("FINISHED", "FAILED", "KILLED"):
            client.set_terminated(rid, status, end_time=start + rng.randrange(20) * 1000)
        elif status == "SCHEDULED":
            client.update_run(rid, status="SCHEDULED")
        if rng.random() < 0.1:
            client.delete_run(rid)
        runs.append({"id": rid, "exp": exp, "name": name, "start": start})
    return exp_ids, runs


# ---------------------------------------------------------------- query generation

def key_ident(rng, prefixes, key):
    prefix = rng.choice(prefixes)
    plain = key.replace("_", "").isalnum() and key.isascii() and not key[0].isdigit()
    forms = ["`" + key + "`", '"' + key + '"']
    if plain:
        forms += [key, key]
    return f"{prefix}.{rng.choice(forms)}"


def quote(rng, value):
    """A value as MLflow's grammar writes it: in single quotes (a quote inside is written as
    is, doubled: MLflow keeps the text between the outer quotes verbatim) or double quotes."""
    if "'" in value and '"' not in value and rng.random() < 0.6:
        return '"' + value + '"'
    if "'" in value:
        # MLflow searches `it''s` for 'it''s': the value `it''s` exists among the params.
        return "'" + value.replace("'", "''") + "'" if "''" not in value else "'" + value + "'"
    return rng.choice(["'", '"']).join(["", value, ""]) if '"' not in value else "'" + value + "'"


def like_pattern(rng, value):
    if not value:
        return "%"
    r = rng.random()
    if r < 0.3:
        return value[: rng.randrange(len(value) + 1)] + "%"
    if r < 0.5:
        return "%" + value[rng.randrange(len(value)) :]
    if r < 0.7:
        i = rng.randrange(len(value))
        return value[:i] + "_" + value[i + 1 :]
    if r < 0.85:
        return value.swapcase() + rng.choice(["", "%"])
    return "%" + value[len(value) // 2 :][:2] + "%"


def number(rng, pool):
    r = rng.random()
    if r < 0.5 and pool:
        return repr(rng.choice(pool))
    return rng.choice(["0", "0.5", "-1", "1", "1e-3", "1.5E2", "0.25", "-0.5", "10", "0.99"])


def string_clause(rng, ident, values, ops=("=", "!=", "LIKE", "ILIKE")):
    op = rng.choice(ops)
    value = rng.choice(values)
    if op in ("LIKE", "ILIKE"):
        value = like_pattern(rng, value)
    elif rng.random() < 0.15:
        value = value.upper() if rng.random() < 0.5 else value + "x"
    return f"{ident} {op} {quote(rng, value)}"


def gen_clause(rng, ctx):
    """One comparison; returns (text, ext) where ext names the documented extension it uses."""
    kind = rng.choices(
        ["metric", "param", "tag", "run_id", "run_name", "user", "status", "time", "artifact", "bad"],
        [18, 16, 12, 6, 7, 4, 8, 10, 4, 6],
    )[0]
    if kind == "metric":
        key = rng.choice(METRIC_KEYS + ["missing"])
        ident = key_ident(rng, ["metrics", "metric", "`metrics`"], key)
        op = rng.choice([">", ">=", "<", "<=", "=", "!="])
        return f"{ident} {op} {number(rng, ctx['metric_values'])}", None
    if kind == "param":
        key = rng.choice(list(PARAM_VALUES) + ["missing"])
        ident = key_ident(rng, ["params", "param", "parameter", "parameters", "`params`"], key)
        if rng.random() < 0.12:
            return f"{ident} {rng.choice(['IS NULL', 'IS NOT NULL', 'is null'])}", None
        return string_clause(rng, ident, PARAM_VALUES.get(key, ["x"])), None
    if kind == "tag":
        key = rng.choice(list(TAG_VALUES) + ["mlflow.user", "missing"])
        ident = key_ident(rng, ["tags", "tag"], key)
        if rng.random() < 0.12:
            return f"{ident} {rng.choice(['IS NULL', 'IS NOT NULL'])}", None
        return string_clause(rng, ident, TAG_VALUES.get(key, USERS)), None
    attr = rng.choice(["attributes.", "attribute.", "attr.", "run.", ""])
    if kind == "run_id":
        ids = ctx["run_ids"]
        r = rng.random()
        if r < 0.3:
            chosen = rng.sample(ids, rng.randrange(1, 4)) + (["0" * 32] if rng.random() < 0.3 else [])
            if rng.random() < 0.2:
                chosen = [c.upper() for c in chosen]
            op = rng.choice(["IN", "NOT IN"])
            return f"{attr}run_id {op} (" + ", ".join(f"'{c}'" for c in chosen) + ")", None
        one = rng.choice(ids)
        values = [one, one.upper(), one[:3] + "%", "A%", one[:1].upper() + "%"]
        return string_clause(rng, f"{attr}run_id", values), None
    if kind == "run_name":
        ident = rng.choice(
            [f"{attr}run_name", "attributes.`run name`", "`Run Name`", "attributes.`Run name`", "run_name"]
        )
        return string_clause(rng, ident, ctx["names"]), None
    if kind == "user":
        return string_clause(rng, f"{attr}user_id", USERS), None
    if kind == "status":
        values = STATUSES + ["finished", "Running", "QUEUED", "scheduled"]
        return string_clause(rng, f"{attr}status", values), None
    if kind == "time":
        field = rng.choice(["start_time", "end_time", "created", "Created"])
        op = rng.choice([">", ">=", "<", "<=", "=", "!="])
        value = BASE_MS + rng.randrange(-2, 80) * 1000
        return f"{attr}{field} {op} {value}", None
    if kind == "artifact":
        run = rng.choice(ctx["runs"])
        uri = f"mlflow-artifacts:/{run['exp']}/{run['id']}/artifacts"
        values = [uri, f"mlflow-artifacts:/{run['exp']}/%", f"%{run['id'][:4]}%", uri.upper()]
        return string_clause(rng, "attributes.artifact_uri", values), None
    # Malformed or outside MLflow's grammar: both must refuse, unless kiroku documents it.
    return rng.choice(
        [
            ("metrics.acc > 'x'", None),
            ("metrics.acc >", None),
            ("attributes.nope = 'x'", None),
            ("foo.bar = 'x'", None),
            ("tags.team = vision", None),
            ("status IS NULL", None),
            ("params.lr = 0.001", "unquoted numbers for params"),
            ("metrics.acc > '0.5'", "quoted numbers for metrics"),
            ("metrics.acc IS NULL", "IS NULL on metrics"),
            ("run_name IN ('resnet-0')", "IN on any field"),
            ("params.opt = 'adam' OR params.opt = 'sgd'", "or"),
            ("metrics.acc == 0.5", "=="),
        ]
    )


def gen_filter(rng, ctx):
    n = rng.choice([0, 1, 1, 1, 2, 2, 3])
    parts = [gen_clause(rng, ctx) for _ in range(n)]
    text = rng.choice([" AND ", " and ", " And "]).join(p[0] for p in parts)
    if n and rng.random() < 0.05:
        text = "AND " + text
    if n and rng.random() < 0.05:
        text = text + " and"
    exts = sorted({p[1] for p in parts if p[1]})
    return text, exts


ORDER_KEYS = [
    "metrics.acc", "metrics.loss", "metrics.`val/acc`", "metrics.missing", "params.lr", "params.seed",
    "params.opt", "tags.team", "tags.`my key`", "attributes.start_time", "start_time", "end_time",
    "attributes.run_name", "status", "user_id", "attributes.artifact_uri", "run_id", "created",
    "`metrics`.acc", "attributes.run_name",
]
# Order keys MLflow refuses and kiroku reads (the README's extensions).
ORDER_EXTENSIONS = {"attributes.`run name`": "run-name aliases in order_by", "experiment": "kiroku-only attributes"}


def gen_order(rng):
    keys = rng.sample(ORDER_KEYS, rng.choice([0, 0, 1, 1, 1, 2, 3]))
    exts = []
    if rng.random() < 0.04:
        extra = rng.choice(sorted(ORDER_EXTENSIONS))
        keys.append(extra)
        exts.append(ORDER_EXTENSIONS[extra])
    out = [k + rng.choice(["", " ASC", " DESC", " desc", " asc"]) for k in keys]
    if out and rng.random() < 0.03:
        return out + [out[0].split()[0] + " DESC"], exts + ["duplicate order_by key"]
    return out, exts


def canonical_key(order):
    """An order key as MLflow resolves it: type alias, quotes and attribute aliases undone."""
    ident = order.split()[0] if order.split() else order
    kind, _, key = ident.partition(".")
    if not key:
        kind, key = "attributes", kind
    kind = kind.strip("`")
    kind = {"metric": "metrics", "param": "params", "parameter": "params", "parameters": "params",
            "tag": "tags", "attribute": "attributes", "attr": "attributes", "run": "attributes"}.get(kind, kind)
    key = key.strip("`\"")
    key = {"created": "start_time", "Created": "start_time", "run name": "run_name"}.get(key, key)
    return kind, key


def duplicate_keys(order_by):
    """Whether an order names a field twice (MLflow: 500; kiroku: a clean 400, documented)."""
    keys = [canonical_key(o) for o in order_by or []]
    return len(set(keys)) < len(keys)


def token(obj):
    return base64.b64encode(json.dumps(obj).encode()).decode()


# ---------------------------------------------------------------- running and comparing

def call(fn):
    try:
        return {"ok": fn()}
    except MlflowException as e:
        return {"error": e.error_code}


def run_pages(client, req, max_pages=5):
    """The pages of one search: lists of run ids, then None or the error code."""
    pages = []
    tok = req.get("page_token")
    for _ in range(max_pages):
        got = call(lambda: client.search_runs(
            req["experiment_ids"], req["filter"], req["view"], req["max_results"], req["order_by"], tok))
        if "error" in got:
            return pages, got["error"]
        page = got["ok"]
        pages.append([r.info.run_id for r in page])
        tok = page.token
        if not tok:
            break
    return pages, None


def experiment_pages(client, req, max_pages=10):
    pages = []
    tok = req.get("page_token")
    for _ in range(max_pages):
        got = call(lambda: client.search_experiments(
            req["view"], req["max_results"], req["filter"], req["order_by"], tok))
        if "error" in got:
            return pages, got["error"]
        # Ids with what MLflow says of each: name, stage and times (kept by the import).
        pages.append([(e.experiment_id, e.name, e.lifecycle_stage, e.creation_time, e.last_update_time)
                      for e in got["ok"]])
        tok = got["ok"].token
        if not tok:
            break
    return pages, None


def compare(kind, req, exts, mlflow_answer, kiroku_answer, tally):
    (m_pages, m_err), (k_pages, k_err) = mlflow_answer, kiroku_answer
    tally["queries"] += 1
    if m_err and not k_err and exts:
        for e in exts:
            tally["extensions"][e] = tally["extensions"].get(e, 0) + 1
        return
    if m_err == "INTERNAL_ERROR" and k_err == "INVALID_PARAMETER_VALUE" and duplicate_keys(req.get("order_by")):
        tally["extensions"]["duplicate order_by key"] = tally["extensions"].get("duplicate order_by key", 0) + 1
        return
    if (m_pages, m_err) == (k_pages, k_err):
        if m_err:
            tally["same_errors"] += 1
        return
    tally["differences"] += 1
    if len(tally["examples"]) < 40:
        def show(pages, err):
            return {"error": err, "pages": [p[:8] + (["..."] if len(p) > 8 else []) for p in pages],
                    "sizes": [len(p) for p in pages]}
        tally["examples"].append({"kind": kind, "request": req, "ext": exts,
                                  "mlflow": show(m_pages, m_err), "kiroku": show(k_pages, k_err)})


def main():
    kiroku, work = sys.argv[1], sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    rng = random.Random(seed)
    procs = []
    try:
        db = os.path.join(work, "mlflow.db")
        mlflow_proc, mlflow_url = start_mlflow_server(
            db, os.path.join(work, "mlart"), os.path.join(work, "mlflow.log"))
        procs.append(mlflow_proc)
        wait_healthy(mlflow_url, procs[-1])
        ml = MlflowClient(tracking_uri=mlflow_url)
        t0 = time.time()
        seeded = os.path.join(work, "seeded.json")
        if os.environ.get("KIROKU_REUSE_SEED") and os.path.exists(seeded):
            # For iterating by hand: the same database, seeded before (the generator's state too).
            exp_ids, runs, state = json.load(open(seeded))
            rng.setstate((state[0], tuple(state[1]), state[2]))
        else:
            exp_ids, runs = seed_runs(ml, rng)
            json.dump([exp_ids, runs, rng.getstate()], open(seeded, "w"))
        seeded_s = time.time() - t0

        store = os.path.join(work, "kiroku")
        shutil.rmtree(store, ignore_errors=True)
        subprocess.run([kiroku, "--store", store, "init"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([kiroku, "--store", store, "import", "mlflow", db], check=True, stdout=subprocess.DEVNULL)
        proc = subprocess.Popen([kiroku, "--store", store, "serve", "--bind", "127.0.0.1:0"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(proc)
        line = proc.stdout.readline()
        kiroku_url = line[line.find("http://"):].split()[0]
        wait_healthy(kiroku_url, proc)
        ki = MlflowClient(tracking_uri=kiroku_url)

        metric_values = []
        for r in ml.search_runs(exp_ids, "", ViewType.ALL, 1000):
            # (MLflow stores infinities as +-1.8e308, which sqlparse cannot read back.)
            metric_values.extend(v for v in r.data.metrics.values() if v == v and abs(v) < 1e15)
        ctx = {"run_ids": [r["id"] for r in runs], "runs": runs, "metric_values": metric_values,
               "names": sorted({r["name"] for r in runs}) + NAMES}
        tally = {"queries": 0, "differences": 0, "same_errors": 0, "extensions": {}, "examples": []}
        t0 = time.time()
        for _ in range(RUN_QUERIES):
            text, exts = gen_filter(rng, ctx)
            order, order_exts = gen_order(rng)
            exps = rng.sample(exp_ids, rng.randrange(1, len(exp_ids) + 1))
            if rng.random() < 0.1:
                exps.append("424242")  # no such experiment: MLflow skips it
            if rng.random() < 0.02:
                exps = ["424242"]
            req = {"experiment_ids": exps, "filter": text, "order_by": order,
                   "view": rng.choice([ViewType.ACTIVE_ONLY] * 3 + [ViewType.DELETED_ONLY, ViewType.ALL]),
                   "max_results": rng.choice([1000, 1000, 1000, 1, 7, 50])}
            r = rng.random()
            if r < 0.04:
                req["page_token"] = rng.choice(
                    [token({"offset": 3}), token({"offset": 0}), token({"offset": "2"}), token({}),
                     "garbage!", token({"offset": 5.0}), token({"offset": "x"})])
            compare("runs", req, exts + order_exts, run_pages(ml, req), run_pages(ki, req), tally)
        for _ in range(EXPERIMENT_QUERIES):
            text, exts = gen_experiment_filter(rng)
            keys = rng.sample(["name", "creation_time", "last_update_time", "experiment_id",
                               "attribute.name"], rng.choice([0, 1, 1, 2]))
            req = {"filter": text, "order_by": [k + rng.choice(["", " ASC", " DESC"]) for k in keys],
                   "view": rng.choice([ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL]),
                   "max_results": rng.choice([1000, 1000, 1, 2])}
            m_pages, m_err = experiment_pages(ml, req)
            k_pages, k_err = experiment_pages(ki, req)
            compare("experiments", req, exts, (m_pages, m_err), (k_pages, k_err), tally)
        tally["seconds"] = {"seed": round(seeded_s, 1), "queries": round(time.time() - t0, 1)}
        tally["runs"] = len(runs)
        print(json.dumps(tally, default=str))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def gen_experiment_filter(rng):
    names = ["exp-a", "exp_b", "Exp%c", "gone", "Default"]
    parts = []
    exts = []
    for _ in range(rng.choice([0, 1, 1, 2])):
        r = rng.random()
        attr = rng.choice(["", "", "attribute."])
        if rng.random() < 0.05:
            attr = "attributes."
            exts.append("attributes. prefix in experiments/search")
        if r < 0.45:
            parts.append(string_clause(rng, f"{attr}name", names))
        elif r < 0.75:
            parts.append(string_clause(rng, rng.choice(["tags.team", "tags.i", "tags.`team`", "tags.missing"]),
                                       ["vision", "nlp", "Vision", "old", "0", "1"]))
        else:
            field = rng.choice(["creation_time", "last_update_time"])
            parts.append(f"{attr}{field} {rng.choice(['>', '>=', '<', '<=', '=', '!='])} "
                         f"{rng.choice([0, int(time.time() * 1000) + 86_400_000, int(time.time() * 1000) - 3_600_000])}")
    return " AND ".join(parts), exts


if __name__ == "__main__":
    main()
