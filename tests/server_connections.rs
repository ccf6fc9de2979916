//! `kiroku serve` against connection floods: idle and slow-header connections beyond the cap
//! (under a lowered open-file limit) must not starve a real client, connections that say
//! nothing are closed after the header timeout, and answers sent before the request body was
//! read say `Connection: close` so keep-alive clients lose no request.
mod common;
use common::raw_http::{raw, request, token};
use common::{Project, Server};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

/// Runs the server with `ulimit -n files` (soft and hard, so it cannot raise it).
fn with_open_file_limit(files: u64) -> impl FnOnce(&mut std::process::Command) {
    move |cmd| {
        // SAFETY: only async-signal-safe setrlimit runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: files,
                    rlim_max: files,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

fn addr(url: &str) -> String {
    url.trim_start_matches("http://").to_string()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Trickles a never-ending request header, one byte a second, re-opening when closed, until
/// `stop` is set.
fn slow_header_client(addr: String, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::Ordering;
    let header = b"GET /api/v1/info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    while !stop.load(Ordering::SeqCst) {
        let Ok(mut s) = TcpStream::connect(&addr) else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        for byte in header.iter().cycle() {
            if stop.load(Ordering::SeqCst) || s.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

#[test]
fn idle_and_slow_header_floods_beyond_the_cap_do_not_starve_a_client_with_a_token() {
    let project = Project::new();
    let alice = token(&project, "alice", false);
    // 512 files: the server caps connections at 256, far below the flood.
    let server = Server::start_with(&project, &[], with_open_file_limit(512)).unwrap();
    let pid = server.child.id();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slow: Vec<_> = (0..40)
        .map(|_| {
            let (a, s) = (addr(&server.url), std::sync::Arc::clone(&stop));
            std::thread::spawn(move || slow_header_client(a, s))
        })
        .collect();
    let idle: Vec<TcpStream> = (0..700)
        .filter_map(|_| TcpStream::connect(addr(&server.url)).ok())
        .collect();
    assert!(idle.len() >= 600, "the flood connected: {}", idle.len());
    std::thread::sleep(Duration::from_millis(500));
    let mut slowest = Duration::ZERO;
    for _ in 0..30 {
        let started = Instant::now();
        let (status, body) = raw(
            &server.url,
            &request("GET", "/api/v1/info", Some(&alice), b""),
        );
        slowest = slowest.max(started.elapsed());
        assert_eq!(status, 200, "a client with a token is served: {body}");
    }
    assert!(
        slowest < Duration::from_secs(2),
        "served promptly while flooded: slowest {slowest:?}"
    );
    // A keep-alive client (reqwest's pool) is served too.
    let client = reqwest::blocking::Client::new();
    for _ in 0..30 {
        let r = client
            .get(format!("{}/api/v1/runs/search", server.url))
            .bearer_auth(&alice)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 405);
    }
    let fds = open_fds(pid);
    assert!(fds < 512, "the server stays under its file limit: {fds}");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    drop(idle);
    for t in slow {
        t.join().unwrap();
    }
    let log = server.stderr_text();
    assert!(!log.contains("panicked"), "{log}");
}

/// Reads from `s` until the server closes it (or `limit` passes); returns when it closed.
fn closed_after(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(started.elapsed())
            }
            Err(_) => return None,
        }
    }
}

#[test]
fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
    let project = Project::new();
    let server = Server::start(&project, &["--header-timeout", "2"]).unwrap();
    let mut silent = TcpStream::connect(addr(&server.url)).unwrap();
    let closed = closed_after(&mut silent, Duration::from_secs(10)).expect("closed");
    assert!(
        closed >= Duration::from_millis(1500) && closed < Duration::from_secs(5),
        "{closed:?}"
    );

    // Trickling header bytes does not keep a connection open past the timeout either.
    let mut slow = TcpStream::connect(addr(&server.url)).unwrap();
    let started = Instant::now();
    let mut closed = None;
    for byte in b"GET /health HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
        if slow.write_all(&[*byte]).is_err() {
            closed = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
        slow.set_nonblocking(true).unwrap();
        let mut probe = [0u8; 64];
        let eof = matches!(slow.read(&mut probe), Ok(0));
        slow.set_nonblocking(false).unwrap();
        if eof {
            closed = Some(started.elapsed());
            break;
        }
    }
    let closed = closed.expect("the slow-header connection was closed");
    assert!(closed < Duration::from_secs(5), "{closed:?}");

    // A kept-alive connection that goes quiet after a request is closed after it too.
    let mut kept = TcpStream::connect(addr(&server.url)).unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(kept.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.contains("200"), "{status}");
    let closed = closed_after(&mut kept, Duration::from_secs(10)).expect("idle closed");
    assert!(closed < Duration::from_secs(5), "{closed:?}");
    // The server serves on.
    assert_eq!(
        raw(&server.url, &request("GET", "/health", None, b"")).0,
        200
    );
}

/// One answer read off a kept-alive connection: status, whether it says `Connection: close`.
fn read_answer(reader: &mut BufReader<TcpStream>) -> std::io::Result<(u16, bool)> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (mut length, mut close) = (0usize, false);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end().to_ascii_lowercase();
        if header.is_empty() {
            break;
        }
        if let Some(v) = header.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if header == "connection: close" {
            close = true;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    Ok((status, close))
}

#[test]
fn an_answer_sent_before_the_body_is_read_says_connection_close_and_keep_alive_clients_lose_nothing(
) {
    let project = Project::new();
    let alice = token(&project, "alice", false);
    let reader_token = token(&project, "rita", true);
    let server = Server::start(&project, &[]).unwrap();
    let padding = "x".repeat(48 * 1024);
    let body = format!(r#"{{"experiment_ids":["0"],"filter":"","pad":"{padding}"}}"#);
    let mut conn: Option<(TcpStream, BufReader<TcpStream>)> = None;
    let (mut failures, mut early, mut reconnects) = (0, 0, 0);
    for i in 0..200 {
        // No token (401), a read-only token on a write (403), and a full read (200).
        let (path, token) = match i % 3 {
            0 => ("/api/2.0/mlflow/runs/log-batch", None),
            1 => ("/api/2.0/mlflow/runs/set-tag", Some(reader_token.as_str())),
            _ => ("/api/2.0/mlflow/runs/search", Some(alice.as_str())),
        };
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(t) = token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(&body);
        if conn.is_none() {
            let s = TcpStream::connect(addr(&server.url)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            conn = Some((s.try_clone().unwrap(), BufReader::new(s)));
            reconnects += 1;
        }
        let (s, reader) = conn.as_mut().unwrap();
        let answer = s
            .write_all(req.as_bytes())
            .and_then(|_| read_answer(reader));
        match answer {
            Ok((status, close)) => {
                let expected = [401, 403, 200][i % 3];
                assert_eq!(status, expected, "request {i}");
                if status != 200 {
                    early += 1;
                    assert!(close, "a {status} sent before the body was read must close");
                }
                if close {
                    conn = None;
                }
            }
            Err(e) => {
                failures += 1;
                eprintln!("request {i} failed on a reused connection: {e}");
                conn = None;
            }
        }
    }
    assert_eq!(failures, 0, "keep-alive requests lost");
    assert!(early > 100 && reconnects > 100, "{early} {reconnects}");
}

#[test]
fn ctrl_c_answers_long_polls_closes_idle_connections_and_exits_at_once() {
    let project = Project::new();
    let mut server = Server::start(&project, &[]).unwrap();
    let (status, body) = raw(
        &server.url,
        &request("GET", "/api/v1/watch?timeout_ms=0", None, b""),
    );
    assert_eq!(status, 200, "{body}");
    let version: serde_json::Value = serde_json::from_str(&body).unwrap();
    let since = version["version"].as_i64().unwrap();
    let url = server.url.clone();
    let poll = std::thread::spawn(move || {
        raw(
            &url,
            &request(
                "GET",
                &format!("/api/v1/watch?since={since}&timeout_ms=60000"),
                None,
                b"",
            ),
        )
    });
    let idle: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(addr(&server.url)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    // SAFETY: signals our own child.
    unsafe { libc::kill(server.child.id() as i32, libc::SIGINT) };
    let (status, body) = poll.join().unwrap();
    assert_eq!(status, 200, "the long poll is answered: {body}");
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the server is still running"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}: {}", server.stderr_text());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(idle);
}
