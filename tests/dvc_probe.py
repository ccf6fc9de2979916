"""The real DVC as an oracle for tests/pipelines_def.rs, many projects per start (DVC is slow
to import): `python3 dvc_probe.py resolve|repro|status DIR...` prints one JSON object keyed by DIR.

resolve: each stage DVC expands from DIR/dvc.yaml (name, cmd, wdir, deps, params, outs, frozen,
always_changed) and the file's top-level params, metrics, plots and artifacts, or {"error":
message} when DVC refuses the file.
repro: `dvc repro` there; the dvc.lock it wrote.
status: what `dvc status` reports for DIR (its --json shape).
"""
import json
import os
import sys

# DVC writes to stdout (`Initialized DVC repository.`, its logger, stage output): the JSON goes
# to the real stdout, everything else to stderr.
RESULT = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
from dvc.repo import Repo  # noqa: E402
from dvc.dependency.param import ParamsDependency  # noqa: E402


def rel(path, root):
    r = os.path.relpath(path, root)
    return "" if r == "." else r


def resolve(root):
    try:
        repo = Repo(root)
        stages = []
        for s in repo.index.stages:
            deps, params = [], {}
            for d in s.deps:
                if isinstance(d, ParamsDependency):
                    params[d.def_path] = None if not d.params else list(d.params)
                else:
                    deps.append(d.def_path)
            outs = [
                {
                    "path": o.def_path,
                    "cache": bool(o.use_cache),
                    "persist": bool(o.persist),
                    "kind": "metric" if o.metric else ("plot" if o.plot else "out"),
                }
                for o in s.outs
            ]
            cmd = s.cmd if isinstance(s.cmd, list) else [s.cmd]
            stages.append(
                {
                    "name": s.addressing,
                    "cmd": cmd,
                    "wdir": rel(s.wdir, root),
                    "deps": deps,
                    "params": params,
                    "outs": outs,
                    "frozen": bool(s.frozen),
                    "always_changed": bool(s.always_changed),
                }
            )
        from dvc.dvcfile import load_file

        project = load_file(repo, os.path.join(root, "dvc.yaml"))
        sections = {
            "params": project.params,
            "metrics": project.metrics,
            "plots": project.plots,
            "artifacts": project.artifacts,
        }
        repo.close()
        return {"stages": stages, "sections": sections}
    except Exception as e:  # the message is compared loosely: DVC refused the file
        return {"error": f"{type(e).__name__}: {e}"}


def repro(root):
    """`dvc repro` of every stage; the lock's text afterwards."""
    repo = Repo(root)
    try:
        repo.reproduce()
    finally:
        repo.close()
    with open(os.path.join(root, "dvc.lock")) as f:
        return f.read()


def status(root):
    repo = Repo(root)
    try:
        return repo.status()
    finally:
        repo.close()


def main():
    what, dirs = sys.argv[1], sys.argv[2:]
    fn = {"resolve": resolve, "status": status, "repro": repro}[what]
    out = {}
    for d in dirs:
        cwd = os.getcwd()
        if not os.path.isdir(os.path.join(d, ".dvc")):
            Repo.init(d, no_scm=True).close()
        os.chdir(d)
        try:
            out[d] = fn(os.path.abspath(d))
        finally:
            os.chdir(cwd)
    json.dump(out, RESULT)
    RESULT.flush()


if __name__ == "__main__":
    main()
