//! The operations page in a real headless Chromium (Debian's `chromium` and `chromedriver`,
//! driven over WebDriver): services' states as rendered text, an OFFLINE appearing, a new
//! event arriving live, the posture banner after a lockdown, and no request but GET sent by
//! the page. Saves a screenshot under `target/ui-screenshots/`. Without Chromium the test says
//! it was skipped; with `RO_REQUIRE_CHROMIUM` set (CI) it fails instead.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{Fake, Server, post};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a port of its own; killed when dropped.
struct Driver {
    child: std::process::Child,
    addr: String,
    session: String,
}

impl Driver {
    /// Starts chromedriver; the browser's temporary files go under `tmp`.
    fn start(tmp: &std::path::Path) -> Option<Driver> {
        if !std::path::Path::new(CHROMIUM).exists() || !std::path::Path::new(CHROMEDRIVER).exists()
        {
            assert!(
                std::env::var_os("RO_REQUIRE_CHROMIUM").is_none(),
                "RO_REQUIRE_CHROMIUM is set and {CHROMIUM} or {CHROMEDRIVER} is missing"
            );
            let _ = writeln!(
                std::io::stderr(),
                "ui: SKIPPED: {CHROMIUM} and {CHROMEDRIVER} are needed (Debian's chromium and chromium-driver); RO_REQUIRE_CHROMIUM=1 fails instead"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .env("TMPDIR", tmp)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "chromedriver never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut driver = Driver {
            child,
            addr,
            session: String::new(),
        };
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,900"] },
            "goog:loggingPrefs": { "performance": "ALL" } } } });
        let created = driver.call("POST", "/session", &caps);
        driver.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("{created}"))
            .to_owned();
        Some(driver)
    }

    /// One WebDriver call (chromedriver keeps connections open: the answer is read by its
    /// Content-Length, not to the end of the stream).
    fn call(&self, method: &str, path: &str, body: &Value) -> Value {
        use std::io::{BufRead, Read};
        let body = if method == "GET" || method == "DELETE" {
            String::new()
        } else {
            body.to_string()
        };
        let mut stream = std::net::TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut reader = std::io::BufReader::new(stream);
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut raw = vec![0u8; length];
        reader.read_exact(&mut raw).unwrap();
        let value: Value = serde_json::from_slice(&raw).unwrap();
        value.get("value").cloned().unwrap_or(value)
    }

    fn session(&self, method: &str, path: &str, body: &Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    /// Runs `script` in the page; its return value.
    fn eval(&self, script: &str) -> Value {
        self.session(
            "POST",
            "/execute/sync",
            &json!({ "script": script, "args": [] }),
        )
    }

    fn text(&self, selector: &str) -> String {
        self.eval(&format!(
            "const e = document.querySelector({selector:?}); return e ? e.innerText : '';"
        ))
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    fn wait_for_text(&self, selector: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.text(selector);
            if check(&text) {
                return text;
            }
            assert!(Instant::now() < deadline, "{what} never showed: {text:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.call("DELETE", &path, &Value::Null)
            }));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_operations_page_shows_states_live_events_and_the_posture_and_only_reads() {
    let (store, token) = common::unlocked_plane_with_clock("ui", "page");
    let tmp = store.parent().unwrap().join("browser");
    std::fs::create_dir_all(&tmp).unwrap();
    let Some(driver) = Driver::start(&tmp) else {
        return;
    };
    let feed = Fake::start("ok");
    let pricer = Fake::start("halted");
    let file = store.with_extension("services.json");
    std::fs::write(
        &file,
        json!({ "every_ms": 200, "timeout_ms": 150, "confirm": 1, "services": [
            { "name": "feed", "url": feed.url(), "owner": "md" },
            { "name": "pricer", "url": pricer.url() } ] })
        .to_string(),
    )
    .unwrap();
    let server = Server::start(
        &store,
        &["--tick-ms", "0", "--services", file.to_str().unwrap()],
    );
    driver.session(
        "POST",
        "/url",
        &json!({ "url": format!("http://{}/ui#token={token}", server.addr) }),
    );
    // Each service's state as text (not colour alone).
    let table = driver.wait_for_text("#services tbody", "both services' states", |t| {
        t.contains("feed")
            && t.contains("OK")
            && t.contains("HALTED")
            && t.contains("MARKETDATA_STALE")
    });
    assert!(table.contains("pricer"), "{table}");
    // The feed stops answering: OFFLINE appears.
    feed.set("down");
    driver.wait_for_text("#services tbody", "OFFLINE", |t| t.contains("OFFLINE"));
    // A command applied elsewhere: its event arrives live, and the banner shows the lockdown.
    let raised = post(
        &server.addr,
        &token,
        r#"{"type":"EMERGENCY_LOCKDOWN","reason":"a drill"}"#,
    )
    .json();
    assert_eq!(raised["ok"], true, "{raised}");
    driver.wait_for_text("#events", "the lockdown's event", |t| {
        t.contains("Lockdown")
    });
    let banner = driver.wait_for_text("#posture", "the posture banner", |t| {
        t.contains("LOCKDOWN RAISED")
    });
    assert!(banner.contains("status: HALTED"), "{banner}");
    assert!(!driver.text("#head-seq").is_empty());
    // The page has no form or button, and sent nothing but GET.
    let controls = driver
        .eval("return document.querySelectorAll('form, button, input, select, textarea').length;");
    assert_eq!(controls, 0);
    let log = driver.session("POST", "/se/log", &json!({ "type": "performance" }));
    let mut methods = Vec::new();
    for entry in log.as_array().unwrap() {
        let message: Value = serde_json::from_str(entry["message"].as_str().unwrap()).unwrap();
        if message["message"]["method"] == "Network.requestWillBeSent" {
            let request = &message["message"]["params"]["request"];
            methods.push((
                request["method"].as_str().unwrap_or_default().to_owned(),
                request["url"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    assert!(methods.len() >= 4, "{methods:?}");
    assert!(methods.iter().all(|(m, _)| m == "GET"), "{methods:?}");
    assert!(
        methods.iter().all(|(_, url)| url.contains(&server.addr)),
        "the page fetched from elsewhere: {methods:?}"
    );
    // Screenshots for whoever looks (kept out of git), at a laptop's width and a phone's,
    // where nothing runs off the side.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    save_screenshot(&driver, &dir.join("operations.png"));
    driver.session(
        "POST",
        "/window/rect",
        &json!({ "width": 390, "height": 844 }),
    );
    std::thread::sleep(Duration::from_millis(300));
    let fits = driver.eval(
        "const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '#' + e.id + '.' + e.className); \
         return { fits: document.documentElement.scrollWidth <= window.innerWidth + 1, width: window.innerWidth, wide };",
    );
    assert_eq!(fits["fits"], true, "the page is wider than a phone: {fits}");
    save_screenshot(&driver, &dir.join("operations-phone.png"));
}

fn save_screenshot(driver: &Driver, png: &std::path::Path) {
    let shot = driver.session("GET", "/screenshot", &Value::Null);
    let mut decode = std::process::Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::fs::File::create(png).unwrap())
        .spawn()
        .unwrap();
    decode
        .stdin
        .take()
        .unwrap()
        .write_all(shot.as_str().unwrap().as_bytes())
        .unwrap();
    assert!(decode.wait().unwrap().success());
    assert!(std::fs::metadata(png).unwrap().len() > 1000);
}
