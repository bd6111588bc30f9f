//! What a hostile peer, a full disk or a damaged file can do to `dcr-local`:
//! raw TCP clients that stall, send too much or send garbage; a store whose
//! disk fills or whose writer dies; database files that hold no database or a
//! damaged one; and the inline configuration. Timeouts are shortened through
//! `Limits` so that every wait here is a poll bounded by a few seconds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dcr_embedded::{DB_FILE_NAME, Faults, testing};
use dcr_local::limits::{Limits, MAX_HEADERS};
use dcr_tests::local::{ChildApp, LocalApp, Refused};
use dcr_tests::{Engine, TestRequest};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Short timeouts, so that a test sees them fire.
fn short() -> Limits {
    Limits {
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        write_timeout: Duration::from_millis(300),
        ..Limits::default()
    }
}

/// Timeouts far longer than any test, to show that something else answers.
fn long() -> Limits {
    Limits {
        header_timeout: Duration::from_secs(60),
        body_timeout: Duration::from_secs(60),
        write_timeout: Duration::from_secs(60),
        ..Limits::default()
    }
}

/// The longest a test waits for something that should happen at once or after
/// a short timeout; on the code before these limits, it never happens.
const PATIENCE: Duration = Duration::from_secs(5);

async fn connect(app: &LocalApp) -> TcpStream {
    TcpStream::connect(app.server.as_ref().unwrap().addr())
        .await
        .unwrap()
}

/// A response as read off the wire.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The service's JSON error with this status and code.
    fn assert_json_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.head);
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{}",
            self.head
        );
        let body: Value = serde_json::from_slice(&self.body).unwrap();
        assert_eq!(body["error"], code, "{body}");
        assert!(body["error_description"].is_string(), "{body}");
    }
}

/// Reads one response (head and `Content-Length` body) within [`PATIENCE`];
/// nothing may follow it yet.
async fn read_response(stream: &mut TcpStream) -> Raw {
    tokio::time::timeout(PATIENCE, async {
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(
                n > 0,
                "closed before a response: {:?}",
                String::from_utf8_lossy(&bytes)
            );
            bytes.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(bytes[..head_end].to_vec()).unwrap();
        let status = head[9..12].parse().unwrap();
        let mut raw = Raw {
            status,
            head,
            body: bytes[head_end..].to_vec(),
        };
        let len: usize = raw
            .header("content-length")
            .map_or(0, |v| v.parse().unwrap());
        while raw.body.len() < len {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed in the middle of a body");
            raw.body.extend_from_slice(&chunk[..n]);
        }
        raw
    })
    .await
    .expect("no response in time")
}

/// Whether the server closes `stream` within `within`, sending nothing more.
async fn closes_silently(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    match tokio::time::timeout(within, stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(n)) => panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&buf[..n])),
        Err(_) => false,
    }
}

const GET_DISCOVERY: &[u8] =
    b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: localhost\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_half_sent_heads_are_closed_after_the_header_timeout() {
    let app = LocalApp::spawn_with("", short(), None).await;
    let mut silent = connect(&app).await;
    let mut half = connect(&app).await;
    half.write_all(b"POST /register HTTP/1.1\r\nHost: localhost\r\nContent-Ty")
        .await
        .unwrap();
    let started = Instant::now();
    assert!(
        closes_silently(&mut silent, PATIENCE).await,
        "a silent connection stays open"
    );
    assert!(
        closes_silently(&mut half, PATIENCE).await,
        "a half-sent head stays open"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "not before the timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = LocalApp::spawn_with("", short(), None).await;
    let mut stream = connect(&app).await;
    for _ in 0..2 {
        stream.write_all(GET_DISCOVERY).await.unwrap();
        assert_eq!(read_response(&mut stream).await.status, 200);
    }
    assert!(
        closes_silently(&mut stream, PATIENCE).await,
        "an idle keep-alive connection stays open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_body_gets_408_and_the_connection_closes() {
    let app = LocalApp::spawn_with("", short(), None).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"POST /register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"redirect_")
        .await
        .unwrap();
    let response = read_response(&mut stream).await;
    response.assert_json_error(408, "invalid_request");
    assert_eq!(response.header("connection"), Some("close"));
    assert!(closes_silently(&mut stream, PATIENCE).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_length_over_the_limit_gets_413_at_once() {
    let app = LocalApp::spawn_with("", long(), None).await;
    for path in ["/register", "/register/some-client"] {
        let method = if path == "/register" { "POST" } else { "PUT" };
        let mut stream = connect(&app).await;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n{{}}"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let response = read_response(&mut stream).await;
        response.assert_json_error(413, "invalid_request");
        assert_eq!(response.header("connection"), Some("close"));
        assert!(closes_silently(&mut stream, PATIENCE).await, "{method}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_still_sending_reads_its_413_before_the_close() {
    let app = LocalApp::spawn_with("", long(), None).await;
    for _ in 0..10 {
        let mut stream = connect(&app).await;
        stream
            .write_all(b"POST /register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")
            .await
            .unwrap();
        // Goes on sending, reading nothing, until the server has answered and closed.
        let chunk = vec![b' '; 64 * 1024];
        for _ in 0..16 {
            if stream.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let mut got = Vec::new();
        let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut got))
            .await
            .expect("the connection closes");
        let got = String::from_utf8_lossy(&got);
        assert!(
            got.starts_with("HTTP/1.1 413 "),
            "the peer lost its answer ({read:?}): {got:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_get_431_as_json() {
    let app = LocalApp::spawn_with("", long(), None).await;
    let big_header = format!(
        "GET /.well-known/openid-configuration HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(420 * 1024)
    );
    let headers = |n: usize| {
        format!(
            "GET /.well-known/openid-configuration HTTP/1.1\r\nHost: localhost\r\n{}\r\n",
            (1..n).map(|i| format!("X-H{i}: v\r\n")).collect::<String>()
        )
    };
    let mut stream = connect(&app).await;
    stream
        .write_all(headers(MAX_HEADERS).as_bytes())
        .await
        .unwrap();
    assert_eq!(
        read_response(&mut stream).await.status,
        200,
        "{MAX_HEADERS} fields"
    );
    let many_headers = headers(MAX_HEADERS + 1);
    let long_uri = format!(
        "GET /register/{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(70_000)
    );
    for request in [big_header, many_headers, long_uri] {
        let mut stream = connect(&app).await;
        // The server may answer and close before it has read everything.
        let _ = stream.write_all(request.as_bytes()).await;
        let response = read_response(&mut stream).await;
        response.assert_json_error(431, "invalid_request");
        assert_eq!(response.header("connection"), Some("close"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_hyper_cannot_parse_get_400_as_json() {
    let app = LocalApp::spawn_with("", long(), None).await;
    let garbage: [&[u8]; 4] = [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost localhost\r\n\r\n",
        b"GET /\x01 HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"POST /register HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    ];
    for request in garbage {
        let mut stream = connect(&app).await;
        stream.write_all(request).await.unwrap();
        let response = read_response(&mut stream).await;
        response.assert_json_error(400, "invalid_request");
    }
    // After good requests on the same connection, too (keep-alive, pipelined).
    let mut stream = connect(&app).await;
    let pipelined = [
        GET_DISCOVERY,
        b"HEAD /register HTTP/1.1\r\nHost: l\r\n\r\n",
        b"BAD\r\n\r\n",
    ]
    .concat();
    stream.write_all(&pipelined).await.unwrap();
    let mut all = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut all))
        .await
        .expect("the connection closes after the 400")
        .unwrap();
    let all = String::from_utf8(all).unwrap();
    assert!(all.starts_with("HTTP/1.1 200 "), "{all}");
    let head_answer = all.find("HTTP/1.1 405 ").expect("the HEAD is answered");
    // A HEAD answer has no body: the bytes after its head are the next response.
    let after = head_answer + all[head_answer..].find("\r\n\r\n").unwrap() + 4;
    let rest = &all[after..];
    assert!(rest.starts_with("HTTP/1.1 400 "), "{rest}");
    assert!(rest.contains("content-type: application/json"), "{rest}");
    assert!(rest.contains("\"error\":\"invalid_request\""), "{rest}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_a_new_connection_takes_the_place_of_the_longest_waiting_one() {
    let limits = Limits {
        max_connections: 4,
        ..long()
    };
    let app = LocalApp::spawn_with("", limits, None).await;
    let mut stalled = Vec::new();
    for _ in 0..4 {
        let mut stream = connect(&app).await;
        stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        stalled.push(stream);
        // Admission order is arrival order: give the server time to take each one.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    let mut good = connect(&app).await;
    good.write_all(GET_DISCOVERY).await.unwrap();
    assert_eq!(read_response(&mut good).await.status, 200);
    assert!(started.elapsed() < PATIENCE);
    assert!(
        closes_silently(&mut stalled[0], PATIENCE).await,
        "the longest-waiting connection made room"
    );
    for stream in &mut stalled[1..] {
        assert!(!closes_silently(stream, Duration::from_millis(50)).await);
    }
}

const EMFILE_CHILD: &str = "DCR_TESTS_EMFILE_CHILD";

/// Not a test on its own: the child process of `running_out_of_descriptors_*`.
/// Serves with a 500 ms header timeout, then lowers its own open-file limit to
/// 64, so that `accept` fails with EMFILE once the peer holds enough connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emfile_child_server() {
    if std::env::var(EMFILE_CHILD).is_err() {
        return;
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter("warn")
        .with_ansi(false)
        .init();
    let limits = Limits {
        header_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let app = LocalApp::spawn_with("", limits, None).await;
    let nofile = rustix::process::Resource::Nofile;
    let limit = rustix::process::getrlimit(nofile);
    rustix::process::setrlimit(
        nofile,
        rustix::process::Rlimit {
            current: Some(64),
            maximum: limit.maximum,
        },
    )
    .unwrap();
    println!("listening on {}", app.base);
    // Until the parent kills it.
    tokio::time::sleep(Duration::from_secs(120)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_descriptors_logs_a_few_lines_and_recovers() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "emfile_child_server",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(EMFILE_CHILD, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let collector = std::thread::spawn({
        let lines = Arc::clone(&lines);
        move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line);
            }
        }
    });
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let base = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split_once("listening on ")
                .map(|(_, base)| base.to_owned())
        })
        .expect("the child server starts");
    let addr = base.strip_prefix("http://").unwrap().to_owned();

    // Far more connections than descriptors, held for two seconds.
    let mut held = Vec::new();
    for _ in 0..300 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(held);

    // The server serves again once the peer has gone.
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let served = client
            .get(format!("{base}/.well-known/openid-configuration"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if served {
            break;
        }
        assert!(Instant::now() < deadline, "not served again within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    collector.join().unwrap();
    let lines = lines.lock().unwrap();
    let failures: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("accept failed"))
        .collect();
    assert!(
        !failures.is_empty(),
        "the child ran out of descriptors: {lines:?}"
    );
    assert!(
        failures.len() <= 3,
        "{} accept failure lines in ~3 s: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(failures[0].contains("count="), "{}", failures[0]);
}

fn register_body() -> Value {
    json!({"redirect_uris": ["https://app.example.com/cb"]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_500_and_the_service_recovers_without_a_restart() {
    let faults = Faults::new();
    let app = LocalApp::spawn_with("", Limits::default(), Some(faults.clone())).await;
    let register = || app.send(TestRequest::new("POST", "/register").json(&register_body()));
    let before = register().await;
    assert_eq!(before.status, 201);

    faults.set_disk_full(true);
    register().await.assert_error(500, "server_error");
    faults.set_disk_full(false);

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = register().await;
        if r.status == 201 {
            break;
        }
        r.assert_error(500, "server_error");
        assert!(
            Instant::now() < deadline,
            "no 201 within 10 s of the disk having room"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let id = before.str("client_id");
    let read = app
        .send(
            TestRequest::new("GET", &format!("/register/{id}"))
                .bearer(&before.str("registration_access_token")),
        )
        .await;
    assert_eq!(read.status, 200, "a client from before the fault is intact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_inside_the_store_answers_a_json_500_and_a_dead_writer_stops_the_server() {
    let faults = Faults::new();
    let mut app = LocalApp::spawn_with("", Limits::default(), Some(faults.clone())).await;
    let first = app
        .send(TestRequest::new("POST", "/register").json(&register_body()))
        .await;
    assert_eq!(first.status, 201);
    let read = TestRequest::new("GET", &format!("/register/{}", first.str("client_id")))
        .bearer(&first.str("registration_access_token"));

    // A read that panics inside the store (after a fault made it rewrite its
    // file): the request still gets its answer.
    let opens = faults.opens();
    faults.set_disk_full(true);
    let _ = app
        .send(TestRequest::new("POST", "/register").json(&register_body()))
        .await;
    faults.set_disk_full(false);
    let deadline = Instant::now() + Duration::from_secs(10);
    while faults.opens() == opens {
        assert!(Instant::now() < deadline, "the database was not rewritten");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    faults.set_panic_on_read(true);
    let during = app.send(read.clone()).await;
    faults.set_panic_on_read(false);
    during.assert_error(500, "server_error");
    assert_eq!(
        app.send(read).await.status,
        200,
        "it serves after the panic"
    );

    // The writer panics: this request gets a JSON 500, then the server stops with an error.
    faults.set_panic_on_write(true);
    app.send(TestRequest::new("POST", "/register").json(&register_body()))
        .await
        .assert_error(500, "server_error");
    let mut server = app.server.take().unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(20), server.wait())
        .await
        .expect("the server stops once its store's writer is dead");
    let e = ended.expect_err("and reports it as an error");
    assert!(format!("{e:#}").contains("writer"), "{e:#}");
}

/// Runs `dcr-local` on `data_dir` expecting it to refuse to start; returns stderr.
async fn refused_start(data_dir: &Path) -> String {
    match ChildApp::start(data_dir, &[], &[]).await {
        Ok(_) => panic!("dcr-local started"),
        Err(refused) => {
            assert!(!refused.status.success(), "{refused:?}");
            refused.stderr
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dcr_local_refuses_a_database_file_that_holds_no_database() {
    let dir = tempfile::tempdir().unwrap();
    testing::fill(dir.path(), 3).await.unwrap();
    let file = dir.path().join(DB_FILE_NAME);
    for (content, expected) in [
        (Vec::new(), "empty (0 bytes)"),
        (
            b"PK\x03\x04 not a database".repeat(500),
            "not a dcr-local database",
        ),
    ] {
        std::fs::write(&file, &content).unwrap();
        let stderr = refused_start(dir.path()).await;
        assert!(stderr.contains(&file.display().to_string()), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            content,
            "the file is left as it was"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dcr_local_refuses_a_damaged_database() {
    let dir = tempfile::tempdir().unwrap();
    testing::fill(dir.path(), 300).await.unwrap();
    let file = dir.path().join(DB_FILE_NAME);
    assert!(testing::damage_pages_holding(dir.path(), b"client-0150").unwrap() > 0);
    let stderr = refused_start(dir.path()).await;
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");
    assert!(stderr.contains("damaged"), "{stderr}");
}

/// Starts the binary on a fresh data dir with `env` and `args`.
async fn start_binary_with(env: &[(&str, &str)], args: &[&str]) -> Result<ChildApp, Refused> {
    let dir = tempfile::tempdir().unwrap();
    ChildApp::start(&dir.path().join("data"), args, env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dcr_local_reads_dcr_config_and_refuses_it_next_to_a_file() {
    let inline = "server_metadata:\n  token_endpoint: https://inline.example.com/token\n";
    let app = start_binary_with(&[("DCR_CONFIG", inline)], &[])
        .await
        .unwrap();
    let doc = app
        .send(TestRequest::new("GET", "/.well-known/openid-configuration"))
        .await
        .json();
    assert_eq!(doc["token_endpoint"], "https://inline.example.com/token");
    drop(app);

    let Err(Refused { stderr, .. }) =
        start_binary_with(&[("DCR_CONFIG", "profile: galactic\n")], &[]).await
    else {
        panic!("a bad inline config started");
    };
    assert!(
        stderr.contains("DCR_CONFIG") && stderr.contains("profile"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(&file, "{}\n").unwrap();
    let Err(Refused { stderr, .. }) = start_binary_with(
        &[("DCR_CONFIG", inline)],
        &["--config", file.to_str().unwrap()],
    )
    .await
    else {
        panic!("both configurations accepted");
    };
    assert!(stderr.contains("DCR_CONFIG"), "{stderr}");
    assert!(stderr.contains(file.to_str().unwrap()), "{stderr}");
}
