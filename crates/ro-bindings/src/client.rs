//! `ro --server URL --token T …`: the command line as a client of a running `ro serve`, with
//! the same inputs and outputs as on a local store. Plain HTTP/1.1 over the standard library
//! (one connection per request, `Connection: close`); `http://` only.

use std::io::{BufRead, Read, Write};

use serde_json::Value;

/// Lines per request when applying a long input (each request's body stays far under the
/// server's default limit for documents of ordinary size).
const LINES_PER_REQUEST: usize = 2048;

/// Why a request did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not `http://host:port[/]`.
    #[error("--server {0:?}: expected http://HOST:PORT")]
    Url(String),
    /// Connecting, sending or reading failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    /// The answer is not HTTP, or not what the endpoint answers.
    #[error("server: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::Url(_) => "INVALID_ARGUMENT",
            ClientError::Io(_) => "SERVER_UNREACHABLE",
            ClientError::Protocol(_) => "SERVER_PROTOCOL",
        }
    }
}

/// A server and the token to present.
#[derive(Debug, Clone)]
pub struct Client {
    addr: String,
    token: String,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: String,
}

impl Client {
    /// A client of `url` (`http://host:port`) presenting `token`.
    pub fn new(url: &str, token: &str) -> Result<Client, ClientError> {
        let addr = url
            .strip_prefix("http://")
            .map(|rest| rest.trim_end_matches('/'))
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .ok_or_else(|| ClientError::Url(url.to_owned()))?;
        Ok(Client {
            addr: addr.to_owned(),
            token: token.to_owned(),
        })
    }

    /// One request.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        extra: &str,
        body: &str,
    ) -> Result<Answer, ClientError> {
        let mut stream = std::net::TcpStream::connect(&self.addr)?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(120)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
            self.addr,
            self.token,
            body.len()
        )?;
        stream.write_all(body.as_bytes())?;
        let mut reader = std::io::BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line)?;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| ClientError::Protocol(format!("not HTTP: {status_line:?}")))?;
        let mut chunked = false;
        let mut length = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                break;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
                if name == "transfer-encoding" && value.contains("chunked") {
                    chunked = true;
                } else if name == "content-length" {
                    length = value.parse::<usize>().ok();
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size)?;
                let size = usize::from_str_radix(size.trim(), 16)
                    .map_err(|e| ClientError::Protocol(format!("chunk size: {e}")))?;
                if size == 0 {
                    break;
                }
                let mut chunk = vec![0; size];
                reader.read_exact(&mut chunk)?;
                body.extend_from_slice(&chunk);
                let mut crlf = [0u8; 2];
                reader.read_exact(&mut crlf)?;
            }
        } else if let Some(length) = length {
            body.resize(length, 0);
            reader.read_exact(&mut body)?;
        } else {
            reader.read_to_end(&mut body)?;
        }
        let body = String::from_utf8(body)
            .map_err(|_| ClientError::Protocol("the body is not UTF-8".into()))?;
        Ok(Answer { status, body })
    }

    /// A GET whose answer must be 200 JSON; a refusal is returned as the server's error
    /// document.
    pub fn get_json(&self, path: &str) -> Result<(bool, Value), ClientError> {
        let answer = self.request("GET", path, "application/json", "", "")?;
        let value = serde_json::from_str(&answer.body)
            .map_err(|e| ClientError::Protocol(format!("{path}: {e}: {}", answer.body)))?;
        Ok((answer.status == 200, value))
    }

    /// `ro apply` through the server: the input's lines in requests of
    /// [`LINES_PER_REQUEST`], each response line printed in order as its request is answered
    /// (refusals name their input line, as at the console). Returns the tally as `apply`
    /// counts it.
    pub fn apply<R: BufRead, W: Write>(
        &self,
        input: R,
        output: &mut W,
    ) -> Result<crate::host::Tally, ClientError> {
        let mut tally = crate::host::Tally::default();
        let mut lines = input.lines();
        let mut offset = 0usize;
        loop {
            let mut body = String::new();
            let mut taken = 0;
            for line in lines.by_ref() {
                body.push_str(&line?);
                body.push('\n');
                taken += 1;
                if taken == LINES_PER_REQUEST {
                    break;
                }
            }
            if taken == 0 {
                return Ok(tally);
            }
            let answer = self.request(
                "POST",
                "/v1/commands",
                "application/x-ndjson",
                &format!("X-Ro-Line-Offset: {offset}\r\n"),
                &body,
            )?;
            if answer.status != 200 {
                return Err(ClientError::Protocol(format!(
                    "{}: {}",
                    answer.status,
                    answer.body.trim()
                )));
            }
            for line in answer.body.lines() {
                let response: Value = serde_json::from_str(line)
                    .map_err(|e| ClientError::Protocol(format!("{e}: {line}")))?;
                match (
                    response.get("ok") == Some(&Value::Bool(true)),
                    response.get("confirmation_required") == Some(&Value::Bool(true)),
                ) {
                    (true, true) => {
                        tally.accepted += 1;
                        tally.pending += 1;
                    }
                    (true, false) => tally.accepted += 1,
                    (false, _) => tally.refused += 1,
                }
                writeln!(output, "{line}")?;
            }
            output.flush()?;
            offset += taken;
        }
    }
}
