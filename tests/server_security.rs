//! `kiroku serve` under hostile or unauthorised input: tokens (401/403), the loopback rule,
//! artifact path traversal, body limits (413), and a fuzz pass over every route that must
//! answer 4xx and never take the server down.
mod common;
use common::raw_http::{raw, request, token};
use common::requires::require_tool;
use common::{assert_ok, Project, Server};
use std::process::Command;
use std::time::Duration;

fn create_run(url: &str, token: Option<&str>) -> String {
    let (status, body) = raw(
        url,
        &request(
            "POST",
            "/api/2.0/mlflow/runs/create",
            token,
            b"{\"experiment_id\":\"0\"}",
        ),
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["run"]["info"]["run_id"].as_str().unwrap().to_string()
}

#[test]
fn tokens_are_required_once_defined_and_read_only_tokens_cannot_write() {
    let project = Project::new();
    let alice = token(&project, "alice", false);
    let reader = token(&project, "rita", true);
    let server = Server::start(&project, &[]).unwrap();
    let get = "/api/2.0/mlflow/experiments/get?experiment_id=0";
    assert_eq!(raw(&server.url, &request("GET", get, None, b"")).0, 401);
    assert_eq!(
        raw(&server.url, &request("GET", get, Some("kik_wrong"), b"")).0,
        401
    );
    assert_eq!(
        raw(&server.url, &request("GET", "/api/v1/info", None, b"")).0,
        401
    );
    assert_eq!(
        raw(&server.url, &request("GET", get, Some(&alice), b"")).0,
        200
    );
    assert_eq!(
        raw(&server.url, &request("GET", get, Some(&reader), b"")).0,
        200
    );
    let run = create_run(&server.url, Some(&alice));
    let search = br#"{"experiment_ids":["0"]}"#;
    assert_eq!(
        raw(
            &server.url,
            &request("POST", "/api/2.0/mlflow/runs/search", Some(&reader), search)
        )
        .0,
        200
    );
    let write = format!(r#"{{"run_id":"{run}","key":"k","value":"v"}}"#);
    let (status, body) = raw(
        &server.url,
        &request(
            "POST",
            "/api/2.0/mlflow/runs/set-tag",
            Some(&reader),
            write.as_bytes(),
        ),
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("PERMISSION_DENIED"));
    // The token's user is who acts, whatever the request claims.
    let note =
        br#"{"author":"mallory","body":"hi","reply_to":null,"anchor":null,"created_ms":null}"#;
    let (status, body) = raw(
        &server.url,
        &request(
            "POST",
            &format!("/api/v1/runs/{run}/notes"),
            Some(&alice),
            note,
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""author":"alice""#), "{body}");
    // Another token's user cannot change alice's note; alice can.
    let bob = token(&project, "bob", false);
    let note_id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
        .as_i64()
        .unwrap();
    let edit = br#"{"user":"alice","body":"bob says hi"}"#;
    let path = format!("/api/v1/runs/{run}/notes/{note_id}");
    // Bob's token, made after the server's token cache was read, works at once.
    let (status, text) = raw(&server.url, &request("POST", &path, Some(&bob), edit));
    assert_eq!(status, 403, "{text}");
    let (status, text) = raw(&server.url, &request("POST", &path, Some(&alice), edit));
    assert_eq!(status, 200, "{text}");
    // The run was created by alice's token.
    let (_, body) = raw(
        &server.url,
        &request(
            "GET",
            &format!("/api/2.0/mlflow/runs/get?run_id={run}"),
            Some(&alice),
            b"",
        ),
    );
    assert!(body.contains(r#""user_id":"alice""#), "{body}");
    // Revoked tokens stop working (within the server's 2 s cache).
    project.ok(&["token", "revoke", "1"]);
    std::thread::sleep(Duration::from_millis(2200));
    assert_eq!(
        raw(&server.url, &request("GET", get, Some(&alice), b"")).0,
        401
    );
}

#[test]
fn a_non_loopback_bind_without_tokens_is_refused_at_start() {
    let project = Project::new();
    let out = project.kiroku(&["serve", "--bind", "0.0.0.0:0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("without authentication") && err.contains("kiroku token create"),
        "{err}"
    );
}

#[test]
fn artifact_paths_cannot_escape_and_oversized_bodies_get_413() {
    let project = Project::new();
    let server = Server::start(&project, &["--max-artifact-mb", "1"]).unwrap();
    let run = create_run(&server.url, None);
    let base = format!("/api/2.0/mlflow-artifacts/artifacts/0/{run}/artifacts");
    for evil in [
        format!("{base}/../../../../etc/passwd"),
        format!("{base}/..%2F..%2F..%2Fkiroku.db"),
        format!("{base}/a/%2E%2E/%2E%2E/%2E%2E/x"),
        format!("{base}/x%00y"),
        format!("/api/2.0/mlflow-artifacts/artifacts/0/{run}/../{run}/artifacts/x"),
    ] {
        let (status, body) = raw(&server.url, &request("PUT", &evil, None, b"owned"));
        assert!(status == 400 || status == 404, "{evil}: {status} {body}");
        let (status, _) = raw(&server.url, &request("GET", &evil, None, b""));
        assert!(status == 400 || status == 404, "{evil}: {status}");
    }
    let listing = format!("/api/2.0/mlflow-artifacts/artifacts?path=0/{run}/artifacts/../../..");
    assert_eq!(
        raw(&server.url, &request("GET", &listing, None, b"")).0,
        400
    );
    assert!(!project.store_dir().join("etc").exists());
    // Bodies over the limits.
    let big = vec![b'x'; 2 << 20];
    let (status, body) = raw(
        &server.url,
        &request("PUT", &format!("{base}/big.bin"), None, &big),
    );
    assert_eq!(status, 413, "{body}");
    let huge = vec![b' '; 17 << 20];
    let (status, _) = raw(
        &server.url,
        &request("POST", "/api/2.0/mlflow/runs/log-batch", None, &huge),
    );
    assert_eq!(status, 413);
    // A fitting upload still works.
    let (status, body) = raw(
        &server.url,
        &request("PUT", &format!("{base}/ok.txt"), None, b"fine"),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn garbage_to_every_route_gets_4xx_and_the_server_survives() {
    let project = Project::new();
    let server = Server::start(&project, &[]).unwrap();
    let run = create_run(&server.url, None);
    let post_routes = [
        "/api/2.0/mlflow/experiments/create",
        "/api/2.0/mlflow/experiments/search",
        "/api/2.0/mlflow/experiments/update",
        "/api/2.0/mlflow/experiments/delete",
        "/api/2.0/mlflow/experiments/restore",
        "/api/2.0/mlflow/runs/create",
        "/api/2.0/mlflow/runs/update",
        "/api/2.0/mlflow/runs/delete",
        "/api/2.0/mlflow/runs/restore",
        "/api/2.0/mlflow/runs/log-metric",
        "/api/2.0/mlflow/runs/log-parameter",
        "/api/2.0/mlflow/runs/set-tag",
        "/api/2.0/mlflow/runs/delete-tag",
        "/api/2.0/mlflow/runs/log-batch",
        "/api/2.0/mlflow/runs/search",
        "/ajax-api/2.0/mlflow/runs/search",
        "/api/v1/experiments",
        "/api/v1/experiments/rename",
        "/api/v1/experiments/delete",
        "/api/v1/experiments/restore",
        "/api/v1/runs",
        "/api/v1/runs/search",
    ];
    let run_routes = [
        "status",
        "name",
        "params",
        "tags",
        "tags/remove",
        "metrics",
        "series/sampled",
        "notes",
        "star",
        "deleted",
        "source",
        "environment",
        "artifacts",
        "inputs",
    ];
    let mut posts: Vec<String> = post_routes.iter().map(|s| s.to_string()).collect();
    posts.extend(run_routes.iter().map(|r| format!("/api/v1/runs/{run}/{r}")));
    let garbage: Vec<Vec<u8>> = vec![
        b"{".to_vec(),
        b"not json at all".to_vec(),
        b"[1,2,3]".to_vec(),
        b"\"\\\"{\\\"\"".to_vec(),
        b"null".to_vec(),
        b"{\"run_id\": [[[[[[[[[[]]]]]]]]]], \"experiment_id\": {\"a\": 1}}".to_vec(),
        format!("{{\"run_id\":\"{run}\",\"key\":\"../x\",\"value\":true,\"timestamp\":-5,\"step\":1e400}}").into_bytes(),
        format!("{{\"run_id\":\"{run}\",\"metrics\":[{{\"key\":\"k\",\"value\":\"nope\",\"timestamp\":1}}]}}").into_bytes(),
        format!("{{\"run_id\":\"{run}\",\"max_results\":-1,\"page_token\":\"%%%\",\"filter\":\"(((\"}}").into_bytes(),
        (0..2000u32).map(|i| (i * 7919 % 251) as u8).collect(),
        "[".repeat(10_000).into_bytes(),
    ];
    for path in &posts {
        for body in &garbage {
            let (status, text) = raw(&server.url, &request("POST", path, None, body));
            // A well-formed object with odd fields may be fine (unknown fields are ignored);
            // anything else must be refused. Never a 5xx.
            let is_object =
                serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| v.is_object());
            let acceptable = if is_object { 200..500 } else { 400..500 };
            assert!(
                acceptable.contains(&status),
                "POST {path} {:?} -> {status} {text}",
                String::from_utf8_lossy(&body[..body.len().min(60)])
            );
            assert!(
                status == 200 || text.contains("error_code"),
                "POST {path}: {text}"
            );
        }
    }
    let gets = [
        "/api/2.0/mlflow/experiments/get?experiment_id=abc",
        "/api/2.0/mlflow/experiments/get?experiment_id=99999999999999999999999",
        "/api/2.0/mlflow/experiments/get-by-name",
        "/api/2.0/mlflow/runs/get?run_id=%00%ff",
        "/api/2.0/mlflow/metrics/get-history?run_id=x&metric_key=y&max_results=zz",
        "/api/v1/experiments?include_deleted=maybe",
        "/api/v1/experiments/lookup",
        "/api/v1/runs/resolve",
        "/api/v1/runs/nope",
        "/api/v1/runs/nope/series",
        "/api/v1/watch?since=x",
        "/api/v1/events?limit=-1",
        "/api/2.0/mlflow-artifacts/artifacts/x",
        "/nothing/here",
    ];
    for path in gets {
        let (status, text) = raw(&server.url, &request("GET", path, None, b""));
        assert!(
            (400..500).contains(&status),
            "GET {path} -> {status} {text}"
        );
    }
    // Extreme numbers: offsets and limits at the top of u64, steps at both ends of i64.
    let huge_token = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(r#"{"offset": 18446744073709551615}"#)
    };
    let extremes = [
        ("/api/2.0/mlflow/runs/search".to_string(), format!(r#"{{"page_token":"{huge_token}","max_results":50000}}"#)),
        (
            "/api/v1/runs/search".to_string(),
            r#"{"experiments":[],"filter":null,"sort":"metrics.x desc","limit":18446744073709551615,"offset":18446744073709551615,"include_deleted":false,"only_deleted":false}"#.to_string(),
        ),
        (
            "/api/2.0/mlflow/runs/log-batch".to_string(),
            format!(r#"{{"run_id":"{run}","metrics":[{{"key":"x","value":1,"timestamp":0,"step":-9223372036854775808}},{{"key":"x","value":2,"timestamp":9223372036854775807,"step":9223372036854775807}}]}}"#),
        ),
        (
            format!("/api/v1/runs/{run}/series/sampled"),
            r#"{"key":"x","query":{"buckets":18446744073709551615,"x":"step","x_min":null,"x_max":null}}"#.to_string(),
        ),
        (
            format!("/api/v1/runs/{run}/series/sampled"),
            r#"{"key":"x","query":{"buckets":3,"x":"timestamp","x_min":null,"x_max":null}}"#.to_string(),
        ),
    ];
    for (path, body) in &extremes {
        let (status, text) = raw(&server.url, &request("POST", path, None, body.as_bytes()));
        assert!(
            (200..500).contains(&status),
            "POST {path} {body} -> {status} {text}"
        );
    }
    let history = format!("/api/2.0/mlflow/metrics/get-history?run_id={run}&metric_key=x&max_results=9223372036854775807&page_token={huge_token}");
    let (status, text) = raw(&server.url, &request("GET", &history, None, b""));
    assert!((200..500).contains(&status), "{status} {text}");

    // Not even a valid HTTP request.
    let _ = raw(&server.url, b"\x00\x01\x02 garbage\r\n\r\n");
    let _ = raw(
        &server.url,
        b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
    );
    let (status, _) = raw(&server.url, &request("GET", "/health", None, b""));
    assert_eq!(status, 200, "the server must still be up");
    let log = server.stderr_text();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
}

/// A CA and a certificate for 127.0.0.1 signed by it, made with the `openssl` command (which
/// the caller has checked for with `require_tool`).
fn make_certificates(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("running openssl");
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n",
    )
    .unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=kiroku test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
}

#[test]
fn tls_serves_https_and_the_http_store_trusts_a_given_ca() {
    let project = Project::new();
    let certs = tempfile::tempdir().unwrap();
    if !require_tool("openssl", &["version"]) {
        return;
    }
    make_certificates(certs.path());
    let cert = certs.path().join("leaf.pem");
    let key = certs.path().join("leaf.key");
    let server = Server::start(
        &project,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    )
    .unwrap();
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let out = project
        .cmd(&["--store", &server.url, "exp", "create", "over-tls"])
        .env("KIROKU_CA_CERT", certs.path().join("ca.pem"))
        .output()
        .unwrap();
    assert_ok(&out);
    // Without the CA the certificate is not trusted; plain HTTP to the TLS port gets nowhere.
    let untrusted = project.kiroku(&["--store", &server.url, "exp", "ls"]);
    assert!(!untrusted.status.success());
    let plain = server.url.replace("https://", "http://");
    let (status, _) = raw(&plain, &request("GET", "/health", None, b""));
    assert_ne!(status, 200);
    let listed = project.json(&["exp", "ls"]);
    assert!(listed.to_string().contains("over-tls"), "{listed}");
}

#[test]
fn a_tls_handshake_that_stalls_is_closed_after_the_header_timeout() {
    use std::io::{Read, Write};
    let project = Project::new();
    let certs = tempfile::tempdir().unwrap();
    if !require_tool("openssl", &["version"]) {
        return;
    }
    make_certificates(certs.path());
    let (cert, key) = (certs.path().join("leaf.pem"), certs.path().join("leaf.key"));
    let server = Server::start(
        &project,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--header-timeout",
            "2",
        ],
    )
    .unwrap();
    let addr = server.url.trim_start_matches("https://").to_string();
    let mut silent = std::net::TcpStream::connect(&addr).unwrap();
    let mut stalled = std::net::TcpStream::connect(&addr).unwrap();
    // The start of a ClientHello record, then nothing.
    stalled
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap();
    let started = std::time::Instant::now();
    // Stalled handshakes hold up nobody meanwhile.
    let out = project
        .cmd(&["--store", &server.url, "exp", "ls"])
        .env("KIROKU_CA_CERT", certs.path().join("ca.pem"))
        .output()
        .unwrap();
    assert_ok(&out);
    for s in [&mut silent, &mut stalled] {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 64];
        let closed = match s.read(&mut buf) {
            Ok(0) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
            Ok(_) => false,
        };
        assert!(closed, "the stalled connection was closed");
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(6),
        "{waited:?}"
    );
}

#[test]
fn info_shows_the_store_path_only_to_tokenless_local_callers() {
    let project = Project::new();
    let path = project.store_dir().display().to_string();
    let local = Server::start(&project, &[]).unwrap();
    let (status, body) = raw(&local.url, &request("GET", "/api/v1/info", None, b""));
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(&path),
        "a tokenless local caller sees it: {body}"
    );
    drop(local);
    let alice = token(&project, "alice", false);
    let reader = token(&project, "rita", true);
    let server = Server::start(&project, &[]).unwrap();
    for t in [&alice, &reader] {
        let (status, body) = raw(&server.url, &request("GET", "/api/v1/info", Some(t), b""));
        assert_eq!(status, 200, "{body}");
        let tail = project.path().file_name().unwrap().to_string_lossy();
        assert!(
            !body.contains(&path) && !body.contains(tail.as_ref()),
            "no server path for a token holder: {body}"
        );
    }
}
