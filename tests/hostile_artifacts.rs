//! The artifact proxy under hostile input, against a real server on 127.0.0.1: concurrent
//! uploads to one path, names at and past the file-name limit, file/folder conflicts, links
//! planted in a run's folder (file links, folder links, a linked `output.log`), oversized
//! bodies, deletes and uploads into deleted runs. User errors are 4xx with MLflow's error code,
//! never 500, and no answer names the server's folders.
mod common;
use common::{Project, Server};
use kiroku::server::BackgroundServer;
use kiroku::store::prelude::*;
use kiroku::store::SqliteStore;
use reqwest::blocking::Client;
use serde_json::Value;
use sha2::Digest;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A store with one run, served in-process.
struct Fixture {
    dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    server: BackgroundServer,
    run_id: String,
    client: Client,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap());
        let server = BackgroundServer::start(
            store.clone() as Arc<dyn Store>,
            None,
            "127.0.0.1:0".parse().unwrap(),
        )
        .unwrap();
        let run_id = store
            .create_run(&kiroku::model::NewRun {
                experiment: "e".into(),
                user: "alice".into(),
                ..Default::default()
            })
            .unwrap()
            .id;
        Fixture {
            dir,
            store,
            server,
            run_id,
            client: Client::new(),
        }
    }

    fn store_dir(&self) -> PathBuf {
        self.dir.path().join(".kiroku")
    }

    fn artifacts(&self) -> PathBuf {
        self.store_dir()
            .join("runs")
            .join(&self.run_id)
            .join("artifacts")
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/0/{}/artifacts/{path}",
            self.server.url(),
            self.run_id
        )
    }

    fn put(&self, path: &str, body: Vec<u8>) -> (u16, Value) {
        answer(self.client.put(self.url(path)).body(body).send().unwrap())
    }

    fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let resp = self.client.get(self.url(path)).send().unwrap();
        (resp.status().as_u16(), resp.bytes().unwrap().to_vec())
    }

    fn delete(&self, path: &str) -> (u16, Value) {
        answer(self.client.delete(self.url(path)).send().unwrap())
    }

    /// The proxy's listing of a folder below the run's artifacts.
    fn list(&self, path: &str) -> (u16, Value) {
        let query = format!("0/{}/artifacts/{path}", self.run_id);
        answer(
            self.client
                .get(format!(
                    "{}/api/2.0/mlflow-artifacts/artifacts",
                    self.server.url()
                ))
                .query(&[("path", query.as_str())])
                .send()
                .unwrap(),
        )
    }

    /// MLflow's tracking-side listing (`artifacts/list`).
    fn list_run(&self, path: &str) -> (u16, Value) {
        answer(
            self.client
                .get(format!(
                    "{}/api/2.0/mlflow/artifacts/list",
                    self.server.url()
                ))
                .query(&[("run_id", self.run_id.as_str()), ("path", path)])
                .send()
                .unwrap(),
        )
    }

    fn recorded(&self, path: &str) -> Option<kiroku::model::Artifact> {
        self.store
            .run(&self.run_id)
            .unwrap()
            .artifacts
            .into_iter()
            .find(|a| a.path == path)
    }

    /// Asserts a 400 with MLflow's code whose message names no server folder.
    fn assert_user_error(&self, (status, body): (u16, Value), what: &str) {
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(
            body["error_code"], "INVALID_PARAMETER_VALUE",
            "{what}: {body}"
        );
        self.assert_no_server_path(&body, what);
    }

    fn assert_no_server_path(&self, body: &Value, what: &str) {
        let text = body.to_string();
        let root = self.dir.path().to_string_lossy().into_owned();
        assert!(
            !text.contains(&root),
            "{what}: the answer names the store: {text}"
        );
    }
}

fn answer(resp: reqwest::blocking::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn sha256_hex(data: &[u8]) -> String {
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every name under `dir` (recursively), as paths relative to it.
fn names_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

fn assert_no_temporaries(dir: &Path) {
    let stray: Vec<_> = names_under(dir)
        .into_iter()
        .filter(|n| n.contains("kiroku-partial"))
        .collect();
    assert!(stray.is_empty(), "temporary files left behind: {stray:?}");
}

#[test]
fn concurrent_puts_to_one_path_leave_the_file_and_its_record_agreeing() {
    let f = Fixture::new();
    // Bodies of different sizes and contents, big enough to be written in many pieces.
    let bodies: Vec<Vec<u8>> = (0..20u8)
        .map(|i| vec![b'a' + i; 200_000 + usize::from(i) * 7_919])
        .collect();
    let hashes: Vec<String> = bodies.iter().map(|b| sha256_hex(b)).collect();
    for trial in 0..6 {
        let statuses: Vec<(u16, Value)> = std::thread::scope(|s| {
            let handles: Vec<_> = bodies
                .iter()
                .map(|b| s.spawn(|| f.put("shared/model.bin", b.clone())))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (status, body) in &statuses {
            assert_eq!(*status, 200, "trial {trial}: {body}");
        }
        let on_disk = std::fs::read(f.artifacts().join("shared/model.bin")).unwrap();
        let file_hash = sha256_hex(&on_disk);
        assert!(
            hashes.contains(&file_hash),
            "trial {trial}: the file mixes bodies"
        );
        let recorded = f.recorded("shared/model.bin").unwrap();
        assert_eq!(
            recorded.hash.as_deref(),
            Some(file_hash.as_str()),
            "trial {trial}"
        );
        assert_eq!(recorded.size, Some(on_disk.len() as u64), "trial {trial}");
        let (status, served) = f.get("shared/model.bin");
        assert_eq!(
            (status, sha256_hex(&served)),
            (200, file_hash),
            "trial {trial}"
        );
        assert_no_temporaries(&f.artifacts());
    }
}

#[test]
fn long_names_and_file_folder_conflicts_are_400_and_leave_no_temporary() {
    let f = Fixture::new();
    // Names the old fixed temp suffix pushed past the 255-byte limit now fit.
    for len in 240..=255 {
        let name = "n".repeat(len);
        let (status, body) = f.put(&format!("long/{name}"), b"x".to_vec());
        assert_eq!(status, 200, "{len} bytes: {body}");
        assert_eq!(f.get(&format!("long/{name}")).1, b"x");
    }
    f.assert_user_error(f.put(&"n".repeat(256), b"x".to_vec()), "a 256-byte name");
    f.assert_user_error(
        f.put(&format!("d/{}/x", "é".repeat(128)), b"x".to_vec()),
        "a 256-byte folder name",
    );
    // `a` is a file, then `a/b`; `c/d` exists, then `c`.
    assert_eq!(f.put("a", b"file".to_vec()).0, 200);
    f.assert_user_error(
        f.put("a/b", b"x".to_vec()),
        "a file where a folder is needed",
    );
    assert_eq!(f.put("c/d", b"file".to_vec()).0, 200);
    f.assert_user_error(f.put("c", b"x".to_vec()), "a folder where a file would go");
    assert_eq!(std::fs::read(f.artifacts().join("a")).unwrap(), b"file");
    assert_eq!(std::fs::read(f.artifacts().join("c/d")).unwrap(), b"file");
    assert!(f.recorded("a/b").is_none() && f.recorded("c").is_none());
    assert_no_temporaries(&f.artifacts());
}

#[test]
fn a_file_link_in_a_run_folder_is_neither_served_nor_listed() {
    let f = Fixture::new();
    let outside = f.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), "top secret").unwrap();
    assert_eq!(f.put("real.txt", b"mine".to_vec()).0, 200);
    symlink(outside.join("secret"), f.artifacts().join("pw")).unwrap();
    symlink("/etc/passwd", f.artifacts().join("passwd")).unwrap();
    for name in ["pw", "passwd"] {
        let (status, body) = f.get(name);
        assert_eq!(status, 404, "{name}: {}", String::from_utf8_lossy(&body));
    }
    let (_, listing) = f.list("");
    assert_eq!(listing["files"].as_array().unwrap().len(), 1, "{listing}");
    assert_eq!(listing["files"][0]["path"], "real.txt");
    let (_, listing) = f.list_run("");
    assert_eq!(listing["files"].as_array().unwrap().len(), 1, "{listing}");
    // An upload over the link replaces the link, never writes through it.
    assert_eq!(f.put("pw", b"new".to_vec()).0, 200);
    assert_eq!(
        std::fs::read(outside.join("secret")).unwrap(),
        b"top secret"
    );
    assert_eq!(f.get("pw"), (200, b"new".to_vec()));
}

#[test]
fn a_folder_link_in_a_run_folder_allows_no_list_get_put_or_delete_outside() {
    let f = Fixture::new();
    let outside = f.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), "top secret").unwrap();
    assert_eq!(f.put("keep.txt", b"k".to_vec()).0, 200);
    symlink(&outside, f.artifacts().join("d")).unwrap();
    assert_eq!(f.get("d/secret").0, 404);
    let (status, listing) = f.list("d");
    assert_eq!(
        (status, listing["files"].as_array().unwrap().len()),
        (200, 0),
        "{listing}"
    );
    let (status, listing) = f.list_run("d");
    assert_eq!(
        (status, listing["files"].as_array().unwrap().len()),
        (200, 0),
        "{listing}"
    );
    f.assert_user_error(
        f.put("d/new", b"x".to_vec()),
        "an upload through a folder link",
    );
    f.assert_user_error(
        f.put("d/sub/new", b"x".to_vec()),
        "an upload below a folder link",
    );
    assert_eq!(f.delete("d/secret").0, 404);
    assert_eq!(names_under(&outside), ["secret"]);
    assert_eq!(
        std::fs::read(outside.join("secret")).unwrap(),
        b"top secret"
    );
    // The run's whole artifacts folder swapped for a link: nothing through it either.
    std::fs::remove_file(f.artifacts().join("d")).unwrap();
    let moved = f.dir.path().join("moved");
    std::fs::rename(f.artifacts(), &moved).unwrap();
    symlink(&outside, f.artifacts()).unwrap();
    assert_eq!(f.get("secret").0, 404);
    assert_eq!(f.list("").1["files"].as_array().unwrap().len(), 0);
    assert_eq!(f.delete("secret").0, 404);
    assert!(f.put("planted", b"x".to_vec()).0 >= 400);
    assert_eq!(names_under(&outside), ["secret"]);
}

#[test]
fn a_link_planted_as_output_log_is_not_uploaded_or_served() {
    let project = Project::new();
    let server = Server::start(&project, &[]).unwrap();
    let secret = project.path().join("secret.txt");
    std::fs::write(&secret, "top secret").unwrap();
    // The script swaps the wrapper's spooled log for a link to the secret.
    let script = project.script(
        "swap.sh",
        &format!(
            "echo hello\nd=$(dirname \"$KIROKU_METRICS_FILE\")\nrm \"$d/output.log\"\nln -s {} \"$d/output.log\"\n",
            secret.display()
        ),
    );
    let out = project
        .cmd(&[
            "--store",
            &server.url,
            "run",
            "--name",
            "swap",
            "--",
            "sh",
            &script,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("output.log"),
        "the refused upload is reported: {stderr}"
    );
    let shown = project.json(&["--store", &server.url, "show", "swap"]);
    let id = shown["run"]["id"].as_str().unwrap().to_string();
    assert!(
        !shown["run"]["artifacts"].to_string().contains("output.log"),
        "{shown}"
    );
    let resp = reqwest::blocking::get(format!(
        "{}/api/2.0/mlflow-artifacts/artifacts/0/{id}/artifacts/output.log",
        server.url
    ))
    .unwrap();
    let status = resp.status().as_u16();
    let body = resp.text().unwrap();
    assert!(!body.contains("top secret"), "{status}: {body}");
    // And in a local store, a link planted as an artifact named output.log is not served.
    let run_dir = project.store_dir().join("runs").join(&id);
    std::fs::create_dir_all(run_dir.join("artifacts")).unwrap();
    let _ = std::fs::remove_file(run_dir.join("artifacts/output.log"));
    symlink(&secret, run_dir.join("artifacts/output.log")).unwrap();
    let resp = reqwest::blocking::get(format!(
        "{}/api/2.0/mlflow-artifacts/artifacts/0/{id}/artifacts/output.log",
        server.url
    ))
    .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}

#[test]
fn an_oversized_upload_is_413_on_a_token_server_and_leaves_nothing() {
    let project = Project::new();
    let alice = project.json(&["token", "create", "--user", "alice"])["token"]
        .as_str()
        .unwrap()
        .to_string();
    let server = Server::start(&project, &["--max-artifact-mb", "1"]).unwrap();
    let client = Client::new();
    let run: Value = client
        .post(format!("{}/api/2.0/mlflow/runs/create", server.url))
        .bearer_auth(&alice)
        .json(&serde_json::json!({"experiment_id": "0"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();
    let url = format!(
        "{}/api/2.0/mlflow-artifacts/artifacts/0/{id}/artifacts/big.bin",
        server.url
    );
    // Declared too large: answered from the headers alone (sent raw, without the body, so the
    // answer cannot race a client still writing into a closed connection), and streamed
    // (chunked, no length) past the limit.
    let path = url.trim_start_matches(&server.url);
    let declared = format!(
        "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Authorization: Bearer {alice}\r\nContent-Length: {}\r\n\r\n",
        (1 << 20) + 1
    );
    let (status, _) = common::raw_http::raw(&server.url, declared.as_bytes());
    assert_eq!(status, 413);
    let chunked = client
        .put(&url)
        .bearer_auth(&alice)
        .body(reqwest::blocking::Body::new(std::io::Cursor::new(vec![
            0u8;
            3 << 20
        ])))
        .send();
    if let Ok(resp) = chunked {
        assert_eq!(resp.status().as_u16(), 413);
    }
    let fits = client
        .put(&url)
        .bearer_auth(&alice)
        .body(reqwest::blocking::Body::new(std::io::Cursor::new(
            vec![7u8; 1 << 20],
        )))
        .send()
        .unwrap();
    assert_eq!(fits.status().as_u16(), 200);
    let artifacts = project.store_dir().join("runs").join(&id).join("artifacts");
    assert_eq!(names_under(&artifacts), ["big.bin"]);
    assert_eq!(
        std::fs::read(artifacts.join("big.bin")).unwrap(),
        vec![7u8; 1 << 20]
    );
}

#[test]
fn deleting_an_artifact_removes_its_record_and_deleted_runs_take_no_uploads() {
    let f = Fixture::new();
    assert_eq!(f.put("model/w.bin", b"w".to_vec()).0, 200);
    assert_eq!(f.put("model/cfg.json", b"{}".to_vec()).0, 200);
    assert_eq!(f.put("notes.txt", b"n".to_vec()).0, 200);
    assert_eq!(f.delete("model/w.bin").0, 200);
    assert!(f.recorded("model/w.bin").is_none());
    assert_eq!(f.delete("model").0, 200);
    assert!(f.recorded("model/cfg.json").is_none());
    assert!(!f.artifacts().join("model").exists());
    assert_eq!(f.delete("model").0, 404);
    f.store.set_deleted(&f.run_id, true, "alice").unwrap();
    let refused = f.put("late.txt", b"late".to_vec());
    f.assert_user_error(refused.clone(), "an upload into a deleted run");
    assert!(
        refused.1["message"]
            .as_str()
            .unwrap()
            .contains("must be in the 'active' state"),
        "{}",
        refused.1
    );
    f.assert_user_error(f.delete("notes.txt"), "a delete in a deleted run");
    assert!(!f.artifacts().join("late.txt").exists());
    assert!(f.recorded("notes.txt").is_some());
    assert_no_temporaries(&f.artifacts());
}

#[test]
fn an_upload_cut_off_midway_leaves_no_file_no_record_and_no_temporary() {
    use std::io::Write;
    let f = Fixture::new();
    assert_eq!(f.put("cut.bin", b"before".to_vec()).0, 200);
    for _ in 0..5 {
        let addr = f.server.url().trim_start_matches("http://").to_string();
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let head = format!(
            "PUT /api/2.0/mlflow-artifacts/artifacts/0/{}/artifacts/cut.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n",
            f.run_id
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&[b'x'; 300_000]).unwrap();
        s.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        drop(s);
    }
    // Give the server time to notice the dropped connections and clean up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let clean = !names_under(&f.artifacts())
            .iter()
            .any(|n| n.contains("kiroku-partial"));
        if clean || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_no_temporaries(&f.artifacts());
    assert_eq!(
        std::fs::read(f.artifacts().join("cut.bin")).unwrap(),
        b"before"
    );
    assert_eq!(
        f.recorded("cut.bin").unwrap().hash.as_deref(),
        Some(sha256_hex(b"before").as_str())
    );
}
