//! What the end-to-end tests share: scratch stores that clean up, and the `ro` binary.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use serde_json::Value;

/// A scratch store in a directory of its own, removed with everything beside it (key file,
/// markers) when the value goes out of scope, also when the test fails.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl From<&Scratch> for ro_bindings::store::Location {
    fn from(scratch: &Scratch) -> Self {
        ro_bindings::store::Location::file(&scratch.0)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
            let _ = dir.parent().map(std::fs::remove_dir);
        }
    }
}

/// A new scratch store path (nothing created yet but its directory), unique to this process
/// and `name`.
pub fn scratch(suite: &str, name: &str) -> Scratch {
    let dir = std::env::temp_dir()
        .join(format!("ro-{suite}-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir.join("store.db"))
}

/// Runs `ro --store STORE ARGS…` with `stdin` as its input.
pub fn ro(store: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ro"))
        .arg("--store")
        .arg(store)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The host may exit before reading its input: a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

/// Standard output as JSON lines.
pub fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A running `ro serve` on a loopback port the system chose; killed when dropped.
pub struct Server {
    child: std::process::Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Server {
    /// Starts `ro --store STORE serve --listen 127.0.0.1:0 ARGS…` and waits until it listens.
    pub fn start(store: &Path, args: &[&str]) -> Server {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_ro"))
            .arg("--store")
            .arg(store)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = match serde_json::from_str(&line) {
            Ok(ready) => ready,
            Err(e) => {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "ro serve did not start ({e}): {line} {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            }
        };
        Server {
            addr: ready["listening"].as_str().unwrap().to_owned(),
            child,
        }
    }

    /// Sends a signal (`TERM`, `KILL`) and waits for the exit, at most 20 s.
    pub fn signal(mut self, signal: &str) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "ro serve did not exit on SIG{signal}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response: status, headers (names lower-cased) and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request over a new connection (`Connection: close`), with `token` as the
/// bearer token when given.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &str,
) -> std::io::Result<Reply> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(60)))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_reply(&raw).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not an HTTP response: {}", String::from_utf8_lossy(&raw)),
        )
    })
}

fn parse_reply(raw: &[u8]) -> Option<Reply> {
    let text = std::str::from_utf8(raw).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    Some(Reply {
        status,
        headers,
        body,
    })
}

fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size + 2..)?;
    }
}

/// POST a JSON document (or an NDJSON body) to `/v1/commands`.
pub fn post(addr: &str, token: &str, body: &str) -> Reply {
    http(
        addr,
        "POST",
        "/v1/commands",
        Some(token),
        "application/json",
        body,
    )
    .unwrap()
}

pub fn post_ndjson(addr: &str, token: &str, body: &str) -> Reply {
    http(
        addr,
        "POST",
        "/v1/commands",
        Some(token),
        "application/x-ndjson",
        body,
    )
    .unwrap()
}

pub fn get(addr: &str, path: &str, token: Option<&str>) -> Reply {
    http(addr, "GET", path, token, "application/json", "").unwrap()
}

/// A Server-Sent Events stream: reads `(id, data)` pairs as they arrive.
pub struct Events {
    reader: std::io::BufReader<Dechunked>,
}

struct Dechunked {
    stream: std::io::BufReader<std::net::TcpStream>,
    left: usize,
}

impl std::io::Read for Dechunked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::BufRead;
        if self.left == 0 {
            let mut size = String::new();
            // The CRLF ending the previous chunk, then the size line.
            while size.trim().is_empty() {
                size.clear();
                if self.stream.read_line(&mut size)? == 0 {
                    return Ok(0);
                }
            }
            self.left = usize::from_str_radix(size.trim(), 16)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            if self.left == 0 {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.left);
        let n = std::io::Read::read(&mut self.stream, &mut buf[..n])?;
        self.left -= n;
        Ok(n)
    }
}

impl Events {
    /// Opens `GET PATH` with the token and `extra` headers; panics unless it is answered 200.
    pub fn open(addr: &str, path: &str, token: &str, extra: &str) -> Events {
        use std::io::BufRead;
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n{extra}Accept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        let mut stream = std::io::BufReader::new(stream);
        let mut status = String::new();
        stream.read_line(&mut status).unwrap();
        assert!(status.contains(" 200 "), "{status}");
        loop {
            let mut header = String::new();
            stream.read_line(&mut header).unwrap();
            if header.trim().is_empty() {
                break;
            }
        }
        Events {
            reader: std::io::BufReader::new(Dechunked { stream, left: 0 }),
        }
    }

    /// The next event's id and data (keep-alive comments skipped).
    pub fn next(&mut self) -> (u64, String) {
        use std::io::BufRead;
        let (mut id, mut data) = (None, None);
        loop {
            let mut line = String::new();
            assert!(
                self.reader.read_line(&mut line).unwrap() > 0,
                "stream ended"
            );
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if let (Some(id), Some(data)) = (id, data.take()) {
                    return (id, data);
                }
                continue;
            }
            if let Some(v) = line.strip_prefix("id:") {
                id = Some(v.trim().parse().unwrap());
            } else if let Some(v) = line.strip_prefix("data:") {
                data = Some(v.trim_start().to_owned());
            }
        }
    }
}

/// A scripted service: answers each request by its current mode.
pub struct Fake {
    pub port: u16,
    mode: std::sync::Arc<std::sync::Mutex<&'static str>>,
}

impl Fake {
    pub fn start(mode: &'static str) -> Fake {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = std::sync::Arc::new(std::sync::Mutex::new(mode));
        let shared = mode.clone();
        let flips = std::sync::Arc::new(std::sync::Mutex::new(false));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (shared, flips) = (shared.clone(), flips.clone());
                std::thread::spawn(move || {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match std::io::Read::read(&mut stream, &mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let mode = *shared.lock().unwrap();
                    let mode = if mode == "flappy" {
                        let mut f = flips.lock().unwrap();
                        *f = !*f;
                        if *f { "ok" } else { "halted" }
                    } else {
                        mode
                    };
                    let (status, body) = match mode {
                        "ok" => (
                            200,
                            r#"{"status":{"state":"OK","reason_codes":[]},"marketdata":{"is_fresh":true},"safety":{"safe_to_execute_orders":true}}"#,
                        ),
                        "halted" => (
                            503,
                            r#"{"status":{"state":"HALTED","reason_codes":["MARKETDATA_STALE"]},"marketdata":{"is_fresh":false},"safety":{"safe_to_execute_orders":false}}"#,
                        ),
                        "closed" => (
                            200,
                            r#"{"status":{"state":"MARKET_CLOSED","reason_codes":[]},"marketdata":{"is_fresh":true}}"#,
                        ),
                        "slow" => {
                            std::thread::sleep(std::time::Duration::from_millis(1500));
                            (200, r#"{"status":{"state":"OK","reason_codes":[]}}"#)
                        }
                        "malformed" => (200, "this is not the status contract"),
                        _ => return, // down: the connection closes unanswered
                    };
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        Fake { port, mode }
    }

    pub fn set(&self, mode: &'static str) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// An unlocked plane with `ro-clock` registered as the host's service principal (operator),
/// and alice's token.
pub fn unlocked_plane_with_clock(suite: &str, name: &str) -> (Scratch, String) {
    let store = scratch(suite, name);
    let clock = [
        "principal",
        "add",
        "ro-clock",
        "--kind",
        "service",
        "--role",
        "operator",
        "--actor",
        "alice",
        "--reason",
        "the host",
    ];
    for args in [
        &["init", "--admin", "alice", "--posture", "unlocked"][..],
        &clock[..],
    ] {
        assert!(ro(&store, args, "").status.success(), "ro {args:?}");
    }
    let issued = ro(
        &store,
        &[
            "token", "issue", "alice", "--actor", "alice", "--reason", "tests",
        ],
        "",
    );
    let token = json_lines(&issued)[0]["token"].as_str().unwrap().to_owned();
    (store, token)
}
