//! Alias moves through MLflow's API take kiroku's one path (`store::model_gate::alias_move`):
//! the real mlflow client (`mlflow_model_gates.py`) against `kiroku serve`, whose project
//! `kiroku.toml` (beside the store) gates `production` of `gated` on a metric, evaluates each
//! version and has a webhook on `production`. A refused move is `INVALID_STATE` naming the
//! failing condition and moves nothing; an allowed move and a deletion are in the alias history
//! with their deliveries queued, which the server's drainer delivers to a receiver here, and so
//! are the alias removals that deleting a version or a model causes; each
//! version registered through the API has its evaluation job from the start, and the job runs
//! an mlflow-using script (`mlflow_evaluation.py`) that logs to the server into its own run.
//! A `kiroku model` command against the server reads its own project's `kiroku.toml`.
//! An edit of `[models]` while the server runs is read at the next write that needs it; a
//! broken edit is refused naming its file, line and key, and the server serves on.
mod common;
use common::hook_receiver::receiver;
use common::requires::require_python_module;
use common::{python_findings, wait_for, Project, Server};
use kiroku::model::promotions::DeliveryState;
use kiroku::store::{JobStore, MetricStore, ModelStore, PromotionStore, SqliteStore};
use serde_json::{json, Value};

#[test]
fn mlflow_alias_moves_are_gated_and_fire_hooks_and_versions_are_evaluated() {
    if !require_python_module("mlflow") {
        return;
    }
    let project = Project::new();
    let (url, got) = receiver(0);
    let evaluated = project.path().join("evaluated.txt");
    std::fs::write(
        project.path().join("kiroku.toml"),
        format!(
            r#"
[models.gated]
evaluate = {{ command = "python3 {script} {evaluated}" }}

[models.gated.aliases.production]
require = ["metrics.acc >= 0.9"]

[[models.gated.hooks]]
name = "notify"
aliases = ["production"]
url = "{url}"

[[models.doomed.hooks]]
name = "gone"
on = ["alias_deleted"]
url = "{url}"
"#,
            evaluated = evaluated.display(),
            script = evaluation_script(),
        ),
    )
    .unwrap();
    let server = Server::start(&project, &[]).unwrap();
    let found = python_findings("mlflow_model_gates.py", &server.url);

    assert_eq!(found["versions"], json!(["1", "2"]));
    let refused = found["weak_to_production"].as_array().expect("refused");
    assert_eq!(refused[0], "INVALID_STATE");
    let message = refused[1].as_str().unwrap();
    assert!(
        message.contains("gated@production") && message.contains("metrics.acc >= 0.9"),
        "{message}"
    );
    assert!(message.contains("acc = 0.5"), "what was found: {message}");
    assert_eq!(found["after_refusal"], json!({}));
    assert_eq!(found["strong_to_production"], Value::Null);
    assert_eq!(found["weak_to_staging"], Value::Null);
    assert_eq!(found["aliases"], json!({"production": "2", "staging": "1"}));
    assert_eq!(found["by_alias"], "2");
    assert_eq!(found["after_delete"], json!({"staging": "1"}));
    assert_eq!(
        found["doomed_after_version_delete"],
        json!({"b": "2", "c": "2"})
    );

    // The history has the two allowed moves and the deletion, no trace of the refused one.
    let store = SqliteStore::open(&project.store_dir(), false).unwrap();
    let history = store.alias_history("gated", None).unwrap();
    let moves: Vec<_> = history
        .iter()
        .map(|m| (m.alias.as_str(), m.from_version, m.to_version))
        .collect();
    assert_eq!(
        moves,
        [
            ("production", None, Some(2)),
            ("staging", None, Some(1)),
            ("production", Some(2), None)
        ]
    );
    // The hook on production fired for its move and its deletion (not staging's), delivered by
    // the server's drainer.
    let expected: Vec<String> = [history[0].id, history[2].id]
        .iter()
        .map(|id| format!("move-{id}-0-webhook"))
        .collect();
    wait_for("both deliveries", || {
        store
            .deliveries(Some("gated"), 10)
            .unwrap()
            .iter()
            .filter(|d| d.state == DeliveryState::Delivered)
            .count()
            == 2
    });
    let mut ids: Vec<String> = store
        .deliveries(Some("gated"), 10)
        .unwrap()
        .into_iter()
        .map(|d| d.delivery.id)
        .collect();
    ids.sort();
    assert_eq!(ids, expected);
    // Deleting `doomed`'s version 1 removed `a`; deleting the model removed `b` and `c`: three
    // moves to nothing in the history that outlives the model, each with its hook delivered.
    let removals: Vec<_> = store
        .alias_history("doomed", None)
        .unwrap()
        .into_iter()
        .filter(|m| m.to_version.is_none())
        .map(|m| (m.alias, m.from_version, m.reason))
        .collect();
    assert_eq!(
        removals,
        [
            (
                "a".into(),
                Some(1),
                "version 1 deleted: via MLflow API".into()
            ),
            ("b".into(), Some(2), "model deleted: via MLflow API".into()),
            ("c".into(), Some(2), "model deleted: via MLflow API".into()),
        ]
    );
    wait_for("the three removals' deliveries", || {
        store
            .deliveries(Some("doomed"), 10)
            .unwrap()
            .iter()
            .filter(|d| d.state == DeliveryState::Delivered)
            .count()
            == 3
    });
    let bodies: Vec<Value> = got
        .lock()
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let actions: Vec<(&str, &Value)> = bodies
        .iter()
        .map(|b| (b["action"].as_str().unwrap(), &b["data"]["version"]))
        .collect();
    assert!(actions.contains(&("created", &json!("2"))), "{bodies:?}");
    assert!(actions.contains(&("deleted", &Value::Null)), "{bodies:?}");
    let mut gone: Vec<(&str, &str)> = bodies
        .iter()
        .filter(|b| b["data"]["name"] == "doomed")
        .map(|b| {
            (
                b["data"]["alias"].as_str().unwrap(),
                b["data"]["previous_version"].as_str().unwrap(),
            )
        })
        .collect();
    gone.sort();
    assert_eq!(gone, [("a", "1"), ("b", "2"), ("c", "2")]);

    // Each version registered through the API got its evaluation as it was created, and the
    // evaluation jobs ran with the version in their environment.
    let evaluations = store.evaluations(Some("gated")).unwrap();
    let versions: Vec<&str> = evaluations.iter().map(|e| e.version.as_str()).collect();
    assert_eq!(versions, ["1", "2"]);
    // Each evaluation's mlflow client found the server in MLFLOW_TRACKING_URI, and logged its
    // metric into the evaluation's own run.
    let lines = || {
        let text = std::fs::read_to_string(&evaluated).unwrap_or_default();
        let mut lines: Vec<Vec<String>> = text
            .lines()
            .map(|l| l.split(' ').map(str::to_string).collect())
            .collect();
        lines.sort();
        lines
    };
    wait_for("the evaluation jobs", || lines().len() == 2);
    let evaluations = store.evaluations(Some("gated")).unwrap();
    for (line, version) in lines().iter().zip(["1", "2"]) {
        assert_eq!(line[0], version, "{line:?}");
        assert_eq!(line[1], server.url.trim_end_matches('/'), "{line:?}");
        let job = evaluations
            .iter()
            .find(|e| e.version == version)
            .unwrap()
            .job_id;
        let run = store.job(job).unwrap().run_id;
        assert_eq!(Some(&line[2]), run.as_ref(), "the evaluation's own run");
        let score = store.metric_series(&line[2], "eval_score").unwrap();
        assert_eq!(score.len(), 1, "{line:?}");
    }

    // A `kiroku model` command against the server reads the [models] of the project it runs in
    // (its kiroku.toml, not only the user's file): here `staging` needs an approval.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(
        elsewhere.path().join("kiroku.toml"),
        "[models.gated.aliases.staging]\napprovals = 1\n",
    )
    .unwrap();
    let out = project
        .cmd(&[
            "--store",
            &server.url,
            "model",
            "alias",
            "gated@staging",
            "2",
        ])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("approvals"), "{err}");
    assert_eq!(
        store.version_by_alias("gated", "staging").unwrap().version,
        1
    );
    drop(server);
}

/// Posts `body` to MLflow's `path` on `url`: the status and the JSON answer.
fn mlflow_post(url: &str, path: &str, body: Value) -> (u16, Value) {
    let answer = reqwest::blocking::Client::new()
        .post(format!("{url}/api/2.0/mlflow/{path}"))
        .json(&body)
        .send()
        .unwrap();
    (
        answer.status().as_u16(),
        answer.json().unwrap_or(Value::Null),
    )
}

#[test]
fn an_edited_models_table_is_read_again_without_a_restart_and_a_broken_one_is_named() {
    let project = Project::new();
    let toml = project.path().join("kiroku.toml");
    // Each text differs in length from the last, so the edit shows whatever the clock's grain.
    let edit = |text: &str, pad: usize| {
        std::fs::write(&toml, format!("{text}{}", "\n".repeat(pad))).unwrap();
    };
    edit("[models.live.aliases.staging]\napprovals = 0\n", 0);
    let server = Server::start(&project, &[]).unwrap();
    let url = server.url.trim_end_matches('/');
    let set_alias = || {
        mlflow_post(
            url,
            "registered-models/alias",
            json!({"name": "live", "alias": "production", "version": "1"}),
        )
    };
    assert_eq!(
        mlflow_post(url, "registered-models/create", json!({"name": "live"})).0,
        200
    );
    assert_eq!(
        mlflow_post(
            url,
            "model-versions/create",
            json!({"name": "live", "source": "models:/m-1"})
        )
        .0,
        200
    );
    assert_eq!(set_alias().0, 200, "no gate on production yet");

    // A gate added while the server runs is judged at the next move.
    edit("[models.live.aliases.production]\napprovals = 1\n", 1);
    let (status, refused) = set_alias();
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error_code"], "INVALID_STATE", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("approval"),
        "{refused}"
    );

    // A broken edit: the move is refused naming the file, line and key; the server serves on.
    edit(
        "[models.live.aliases.production]\napprovals = 1\nrequire = [\"metrics.acc >>= 1\"]\n",
        2,
    );
    let (status, broken) = set_alias();
    assert_ne!(status, 200, "{broken}");
    let message = broken["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("kiroku.toml: line 3: models.live.aliases.production.require[0]"),
        "{broken}"
    );
    let alive = reqwest::blocking::get(format!(
        "{url}/api/2.0/mlflow/registered-models/get?name=live"
    ))
    .unwrap();
    assert_eq!(alive.status().as_u16(), 200);
    // The server says so too (its stderr is read by a thread of the test: wait for the line).
    wait_for("the server's word on the broken edit", || {
        server
            .stderr_text()
            .contains("models.live.aliases.production.require[0]")
    });

    // Fixed: read again, and the move goes through.
    edit("[models.live.aliases.staging]\napprovals = 1\n", 3);
    assert_eq!(set_alias().0, 200);
    let store = SqliteStore::open(&project.store_dir(), false).unwrap();
    assert_eq!(
        store
            .alias_history("live", Some("production"))
            .unwrap()
            .len(),
        2
    );
}

/// On a token-protected server, a version's evaluation job logs back with a token of its own
/// (`models::job_tokens`): the evaluation's mlflow client (`mlflow_evaluation.py`) logs its
/// metric into the evaluation run through the server, with no token in the job's record or its
/// command; the token is the job's (its own user), revoked as the job ends, and the admin's
/// token, which registered the version, is never handed on. The job's token writes only into
/// its run (`server::job_scope`): tags, params, files and a logged model of its own run go
/// through; a metric or a file on the version's training run, a new run, a registered model and
/// a logged model of no run are `PERMISSION_DENIED`; reading the training run is fine.
#[test]
fn evaluation_jobs_of_a_token_protected_server_log_back_with_a_token_of_their_own() {
    if !require_python_module("mlflow") {
        return;
    }
    let project = Project::new();
    let evaluated = project.path().join("evaluated.txt");
    let probed = project.path().join("probed.json");
    std::fs::write(
        project.path().join("kiroku.toml"),
        format!(
            "[models.scored]\nevaluate = {{ command = \"python3 {script} {evaluated} {probed}\" }}\n",
            evaluated = evaluated.display(),
            probed = probed.display(),
            script = evaluation_script(),
        ),
    )
    .unwrap();
    let store = SqliteStore::open(&project.store_dir(), false).unwrap();
    let (admin, admin_secret) = store.create_token("admin", false).unwrap();
    let server = Server::start(&project, &[]).unwrap();

    // Without a token the server refuses the mlflow client: a token is needed to log at all.
    let refused = common::python("mlflow_register_version.py")
        .args([&server.url, "scored"])
        .output()
        .unwrap();
    assert!(!refused.status.success(), "no token, no registration");
    // The evaluation ran and its mlflow client logged through the server into its own run.
    let (line, job) = evaluated_with_token(&store, &server, &admin_secret, &evaluated);
    assert_eq!(line[0], "1");

    // What the job's token could write: its own run, and nothing else.
    let probed: Value = serde_json::from_str(&std::fs::read_to_string(&probed).unwrap()).unwrap();
    for own in [
        "own_tag",
        "own_param",
        "own_file",
        "own_logged_model",
        "read_training_run",
    ] {
        assert_eq!(probed[own], "ok", "{own}: {probed}");
    }
    for refused in [
        "training_run_metric",
        "new_run",
        "register_model",
        "unowned_logged_model",
    ] {
        assert_eq!(probed[refused], "PERMISSION_DENIED", "{refused}: {probed}");
    }
    assert_eq!(probed["training_run_file"], "HTTP 403", "{probed}");
    let trained = store
        .model_version("scored", 1)
        .unwrap()
        .run_id
        .expect("the version's run");
    let acc = store.metric_series(&trained, "acc").unwrap();
    assert_eq!(acc.len(), 1, "the training run is as it was: {acc:?}");
    assert!(store.registered_model("sneaky").is_err());
    let logged = store
        .search_logged_models(&kiroku::model::registry::LoggedModelQuery {
            filter: Some(format!("source_run_id = '{}'", line[2])),
            ..Default::default()
        })
        .unwrap()
        .models;
    assert_eq!(logged.len(), 1, "the evaluation's own logged model");
    assert_eq!(
        logged[0].tags.get("by").map(String::as_str),
        Some("evaluation")
    );

    // Neither the admin's token nor the job's own is in the job's record.
    let record = format!("{:?} {:?}", job.env, job.command);
    assert!(!record.contains(&admin_secret), "{record}");
    assert!(
        !record.contains("kik_"),
        "no secret in the job's record: {record}"
    );

    // The job's token was its own, and is revoked once the job has ended; the admin's stays.
    wait_for("the job's token to be revoked", || {
        let tokens = store.tokens().unwrap();
        tokens
            .iter()
            .any(|t| t.user == "job:eval scored/1" && t.revoked_ms.is_some())
    });
    let tokens = store.tokens().unwrap();
    assert_eq!(tokens.len(), 2, "the admin's and the job's: {tokens:?}");
    assert!(tokens
        .iter()
        .any(|t| t.id == admin.id && t.revoked_ms.is_none()));
    let files = std::fs::read_dir(project.store_dir().join("job-tokens"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(files, 0, "the token's file goes with it");
}

/// On an ssh target, a token-protected server's evaluation job finds its token where it runs
/// (`jobs::ssh`): a 0600 file in the job's folder on the host, the secret sent on ssh's standard
/// input, so its mlflow client logs back into the evaluation run; the file is gone once the
/// command ended. (The host is this box through the test sshd.)
#[test]
fn evaluation_jobs_on_an_ssh_target_log_back_with_a_token_from_a_file_there() {
    if !require_python_module("mlflow") {
        return;
    }
    let Some(sshd) = common::sshd::require_sshd() else {
        return;
    };
    let project = Project::new();
    let remote = tempfile::tempdir().unwrap();
    let evaluated = project.path().join("evaluated.txt");
    std::fs::write(
        project.path().join("kiroku.toml"),
        format!(
            "{target}\n[models.scored]\nevaluate = {{ command = \"python3 {script} {evaluated}\", target = \"box\" }}\n",
            target = sshd.target_toml("box", remote.path()),
            evaluated = evaluated.display(),
            script = evaluation_script(),
        ),
    )
    .unwrap();
    let store = SqliteStore::open(&project.store_dir(), false).unwrap();
    let (_, admin_secret) = store.create_token("admin", false).unwrap();
    let server = Server::start(&project, &[]).unwrap();
    let (line, job) = evaluated_with_token(&store, &server, &admin_secret, &evaluated);
    assert_eq!(job.target, "box");
    let token_file = std::path::PathBuf::from(&line[3]);
    assert_eq!(
        token_file,
        remote
            .path()
            .join(".kiroku/jobs")
            .join(&line[2])
            .join("token"),
        "the token's file is the host's, in the job's folder"
    );
    wait_for("the token's file to go with the command", || {
        !token_file.exists()
    });
}

/// Registers version 1 of `scored` through the mlflow client with the admin's token, waits for
/// its evaluation job (`mlflow_evaluation.py`) to write its line to `evaluated`, and checks the
/// job's mlflow client logged `eval_score` through the server into the job's own run. Returns
/// the line's fields (version, tracking URI, run, token file) and the job.
fn evaluated_with_token(
    store: &SqliteStore,
    server: &Server,
    admin_secret: &str,
    evaluated: &std::path::Path,
) -> (Vec<String>, kiroku::model::Job) {
    let registered = common::python("mlflow_register_version.py")
        .args([&server.url, "scored"])
        .env("MLFLOW_TRACKING_TOKEN", admin_secret)
        .output()
        .unwrap();
    assert!(
        registered.status.success(),
        "{}",
        String::from_utf8_lossy(&registered.stderr)
    );
    wait_for("the evaluation job", || {
        std::fs::read_to_string(evaluated).is_ok_and(|t| t.lines().count() == 1)
    });
    let line: Vec<String> = std::fs::read_to_string(evaluated)
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let evaluation = store.evaluations(Some("scored")).unwrap().remove(0);
    let job = store.job(evaluation.job_id).unwrap();
    assert_eq!(job.run_id.as_ref(), Some(&line[2]), "the evaluation's run");
    let score = store.metric_series(&line[2], "eval_score").unwrap();
    assert_eq!(
        score.len(),
        1,
        "logged through the server with the job's token"
    );
    (line, job)
}

/// The evaluation command's script (`mlflow_evaluation.py`), as a path for `kiroku.toml`.
fn evaluation_script() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/mlflow_evaluation.py")
        .display()
        .to_string()
}
