//! Submitting through this host's running scheduler, as task-spooler's clients do: `submit`
//! hands the job to the scheduler over a unix stream socket and the scheduler queues it with
//! the store connection it already has open, then places it at once. The submitting process
//! neither opens the store nor wakes anyone, which is most of what a submission cost.
//!
//! - **Same user only.** The socket is in the abstract namespace (no file, no permissions), so
//!   the scheduler checks the connecting process's uid (`SO_PEERCRED`) and serves only its own
//!   user's processes; anyone else is refused and submits through the store as before.
//! - **Nothing is lost or doubled.** With no scheduler listening (none runs, or it is exiting)
//!   the connection is refused before anything is sent, and `submit` queues through the store
//!   itself. Once the request is sent, a missing answer is an error that says to look at the
//!   queue before submitting again: the job may be queued.
//! - **Frames.** A request is a 4-byte little-endian length and the JSON of a `NewJob`; the
//!   answer the same framing around `{"job": Job}` or `{"error": {"kind", "message"}}`.
use crate::error::{KirokuError, Result};
use crate::model::{Job, NewJob};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::time::Duration;

/// The largest request or answer accepted (a job's command and environment included).
const MAX_FRAME: usize = 4 << 20;
/// How long the scheduler waits for a connected client's request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a client waits for the answer (the scheduler may wait on a busy store).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(90);

/// The scheduler's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Answer {
    Job(Box<Job>),
    Error(AnswerError),
}

#[derive(Debug, Serialize, Deserialize)]
struct AnswerError {
    /// `not_found`, `invalid`, `conflict`, `forbidden` (input errors) or `failure`.
    kind: String,
    message: String,
}

impl AnswerError {
    fn of(e: &KirokuError) -> AnswerError {
        let kind = match e {
            KirokuError::NotFound(_) => "not_found",
            KirokuError::Conflict(_) => "conflict",
            KirokuError::Forbidden(_) => "forbidden",
            e if e.exit_code() == 2 => "invalid",
            _ => "failure",
        };
        AnswerError {
            kind: kind.into(),
            message: e.to_string(),
        }
    }

    fn into_error(self) -> KirokuError {
        match self.kind.as_str() {
            "not_found" => KirokuError::NotFound(self.message),
            "conflict" => KirokuError::Conflict(self.message),
            "forbidden" => KirokuError::Forbidden(self.message),
            "invalid" => KirokuError::Invalid(self.message),
            _ => KirokuError::io(
                "the scheduler could not queue the job",
                std::io::Error::other(self.message),
            ),
        }
    }
}

fn address(place: &str) -> std::io::Result<SocketAddr> {
    let mut name = super::wake::socket_name_of(place);
    name.extend_from_slice(b"/submit");
    SocketAddr::from_abstract_name(name)
}

/// Hands `new` to this host's scheduler of the store at `place` (its folder or URL, as
/// `Store::describe` names it). `Ok(None)`: no scheduler takes submissions here now (nothing
/// was sent; queue it through the store).
pub fn submit_via_scheduler(place: &str, new: &NewJob) -> Result<Option<Job>> {
    let Ok(addr) = address(place) else {
        return Ok(None);
    };
    let Ok(mut stream) = UnixStream::connect_addr(&addr) else {
        return Ok(None);
    };
    let request = serde_json::to_vec(new)
        .map_err(|e| KirokuError::Invalid(format!("the job cannot be encoded: {e}")))?;
    if write_frame(&mut stream, &request).is_err() {
        // The scheduler closed before reading (it was exiting): nothing was queued.
        return Ok(None);
    }
    let lost = |e: std::io::Error| {
        KirokuError::io(
            "the scheduler took the job but did not answer (it may be queued: see `kiroku jobs ls` before submitting again)",
            e,
        )
    };
    stream
        .set_read_timeout(Some(ANSWER_TIMEOUT))
        .map_err(lost)?;
    let answer = read_frame(&mut stream).map_err(lost)?;
    match serde_json::from_slice::<Answer>(&answer) {
        Ok(Answer::Job(job)) => Ok(Some(*job)),
        Ok(Answer::Error(e)) => Err(e.into_error()),
        Err(e) => Err(lost(std::io::Error::other(format!(
            "unreadable answer: {e}"
        )))),
    }
}

fn write_frame(stream: &mut UnixStream, body: &[u8]) -> std::io::Result<()> {
    let mut frame = (body.len() as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(body);
    stream.write_all(&frame)
}

fn read_frame(stream: &mut UnixStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::other(format!(
            "a frame of {len} bytes (at most {MAX_FRAME})"
        )));
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    Ok(body)
}

/// The uid of the process at the other end of `stream`.
fn peer_uid(stream: &UnixStream) -> Option<libc::uid_t> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(cred.uid)
}

/// The scheduler's end: bound while it serves, released by the kernel when it dies.
pub struct SubmitSocket {
    listener: UnixListener,
    /// Submissions are taken from processes of this user only.
    uid: libc::uid_t,
}

impl SubmitSocket {
    /// Binds the socket of the store at `place`; `Ok(None)` when another process holds it.
    pub fn bind(place: &str) -> std::io::Result<Option<SubmitSocket>> {
        match UnixListener::bind_addr(&address(place)?) {
            Ok(listener) => {
                listener.set_nonblocking(true)?;
                Ok(Some(SubmitSocket {
                    listener,
                    // SAFETY: getuid cannot fail.
                    uid: unsafe { libc::getuid() },
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The descriptor to wait on (readable when a client connects).
    pub fn fd(&self) -> std::os::fd::RawFd {
        self.listener.as_raw_fd()
    }

    /// Serves every client waiting: queues each job with `queue` and answers. Returns how many
    /// jobs were queued.
    pub fn serve_waiting(&self, mut queue: impl FnMut(&NewJob) -> Result<Job>) -> usize {
        let mut queued = 0;
        while let Ok((mut stream, _)) = self.listener.accept() {
            if peer_uid(&stream) != Some(self.uid) {
                continue; // dropped unanswered: that client queues through the store
            }
            let served = (|| -> std::io::Result<bool> {
                stream.set_nonblocking(false)?;
                stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
                stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
                let request = read_frame(&mut stream)?;
                let (answer, ok) = match serde_json::from_slice::<NewJob>(&request) {
                    Ok(new) => match queue(&new) {
                        Ok(job) => (Answer::Job(Box::new(job)), true),
                        Err(e) => (Answer::Error(AnswerError::of(&e)), false),
                    },
                    Err(e) => (
                        Answer::Error(AnswerError::of(&KirokuError::Invalid(format!(
                            "an unreadable submission: {e}"
                        )))),
                        false,
                    ),
                };
                let body = serde_json::to_vec(&answer).map_err(std::io::Error::other)?;
                write_frame(&mut stream, &body)?;
                Ok(ok)
            })();
            match served {
                Ok(true) => queued += 1,
                Ok(false) => {}
                Err(e) => eprintln!("kiroku scheduler: a submission: {e}"),
            }
        }
        queued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_job(command: &str) -> NewJob {
        NewJob {
            experiment: "Default".into(),
            target: "local".into(),
            command: vec![command.into()],
            workdir: "/".into(),
            user: "ana".into(),
            host: "box".into(),
            ..Default::default()
        }
    }

    #[test]
    fn without_a_scheduler_nothing_is_sent() {
        let place = format!("/nowhere/{}", std::process::id());
        assert!(submit_via_scheduler(&place, &new_job("true"))
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_submission_is_queued_by_the_scheduler_and_its_errors_come_back_as_they_were() {
        let place = format!("/test/submit-channel/{}", std::process::id());
        let socket = SubmitSocket::bind(&place).unwrap().expect("free");
        assert!(SubmitSocket::bind(&place).unwrap().is_none(), "one holder");
        let server = std::thread::spawn(move || {
            let mut calls = 0;
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while calls < 2 && std::time::Instant::now() < deadline {
                socket.serve_waiting(|new| {
                    calls += 1;
                    if new.command[0] == "bad" {
                        return Err(KirokuError::NotFound("--after 9: there is no job 9".into()));
                    }
                    let mut job: Job = serde_json::from_value(serde_json::json!({
                        "id": 41, "name": "n", "experiment": "Default", "target": "local",
                        "command": new.command, "workdir": "/", "env": [], "gpus": 0,
                        "gpu_memory_mb": null, "after": [], "params": [], "tags": [],
                        "rerun_of": null, "retry_of": null, "time_limit_s": null,
                        "user": "ana", "host": "box", "status": "queued", "reason": "",
                        "assigned_gpus": [], "run_id": null, "queued_at": 1,
                        "started_at": null, "ended_at": null, "exit_code": null,
                        "supervisor": null, "handle": null, "cancel_requested": false
                    }))
                    .unwrap();
                    job.name = new.command[0].clone();
                    Ok(job)
                });
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let job = submit_via_scheduler(&place, &new_job("train.py")).unwrap();
        assert_eq!(job.map(|j| (j.id, j.name)), Some((41, "train.py".into())));
        match submit_via_scheduler(&place, &new_job("bad")) {
            Err(KirokuError::NotFound(message)) => {
                assert_eq!(message, "--after 9: there is no job 9")
            }
            other => panic!("{other:?}"),
        }
        server.join().unwrap();
    }
}
