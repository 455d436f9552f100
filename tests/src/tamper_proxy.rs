//! An active attacker on the path between a device and the server (one that broke or bypassed
//! TLS, e.g. a compromised reverse proxy): an HTTP/1.1 proxy on loopback that forwards requests
//! untouched and hands every JSON answer of one path to a rewrite function before the device
//! sees it.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Rewrites a JSON answer in place.
pub type Rewrite = Box<dyn FnMut(&mut serde_json::Value) + Send>;

/// A running proxy; stops accepting when dropped.
pub struct TamperProxy {
    /// `http://127.0.0.1:PORT` of the proxy.
    pub base: String,
    rewrite: Arc<Mutex<Option<(String, Rewrite)>>>,
    /// Answers rewritten so far.
    pub rewritten: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl TamperProxy {
    /// Proxies to `upstream` (`127.0.0.1:PORT`), forwarding untouched until [`TamperProxy::rewrite`].
    pub fn start(upstream: &str) -> TamperProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let base = format!("http://{}", listener.local_addr().expect("proxy address"));
        listener.set_nonblocking(true).expect("non-blocking accept");
        let rewrite: Arc<Mutex<Option<(String, Rewrite)>>> = Arc::new(Mutex::new(None));
        let rewritten = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let upstream = upstream.to_string();
        let (rules, count, halt) = (rewrite.clone(), rewritten.clone(), stop.clone());
        let accept = std::thread::spawn(move || {
            while !halt.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        let (upstream, rules, count) = (upstream.clone(), rules.clone(), count.clone());
                        std::thread::spawn(move || {
                            let _ = relay(client, &upstream, &rules, &count);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => break,
                }
            }
        });
        TamperProxy { base, rewrite, rewritten, stop, accept: Some(accept) }
    }

    /// From now on, answers to requests whose path starts with `path` are rewritten by `f`.
    pub fn rewrite(&self, path: &str, f: impl FnMut(&mut serde_json::Value) + Send + 'static) {
        *self.rewrite.lock().expect("rewrite rule") = Some((path.to_string(), Box::new(f)));
    }

    /// Forwards untouched again.
    pub fn stop_rewriting(&self) {
        *self.rewrite.lock().expect("rewrite rule") = None;
    }
}

impl Drop for TamperProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// One HTTP message: its start line, headers and body.
struct Message {
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn read(reader: &mut impl BufRead) -> std::io::Result<Option<Message>> {
        let mut start = String::new();
        if reader.read_line(&mut start)? == 0 {
            return Ok(None);
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut m = Message { start: start.trim_end().to_string(), headers, body: Vec::new() };
        if m.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size)?;
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0u8; n + 2];
                reader.read_exact(&mut chunk)?;
                if n == 0 {
                    break;
                }
                m.body.extend_from_slice(&chunk[..n]);
            }
            m.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("transfer-encoding"));
        } else {
            let n: usize = m.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            m.body = vec![0u8; n];
            reader.read_exact(&mut m.body)?;
        }
        Ok(Some(m))
    }

    fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut head = format!("{}\r\n", self.start);
        for (k, v) in &self.headers {
            if !k.eq_ignore_ascii_case("content-length") {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", self.body.len()));
        out.write_all(head.as_bytes())?;
        out.write_all(&self.body)?;
        out.flush()
    }
}

fn relay(
    client: TcpStream,
    upstream: &str,
    rules: &Mutex<Option<(String, Rewrite)>>,
    count: &AtomicU64,
) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream)?;
    let mut from_client = BufReader::new(client.try_clone()?);
    let mut to_client = client;
    let mut from_server = BufReader::new(server.try_clone()?);
    let mut to_server = server;
    while let Some(request) = Message::read(&mut from_client)? {
        let path = request.start.split(' ').nth(1).unwrap_or("").to_string();
        request.write(&mut to_server)?;
        let Some(mut answer) = Message::read(&mut from_server)? else { break };
        let mut rules = rules.lock().expect("rewrite rule");
        if let Some((prefix, f)) = rules.as_mut()
            && path.starts_with(prefix.as_str())
        {
            let json = if answer.header("content-encoding").is_some_and(|e| e == "deflate") {
                onevisit_core::sync::wire::inflate(&answer.body, 64 << 20).ok()
            } else {
                Some(answer.body.clone())
            };
            if let Some(mut value) = json.and_then(|j| serde_json::from_slice::<serde_json::Value>(&j).ok()) {
                f(&mut value);
                answer.body = serde_json::to_vec(&value).expect("JSON");
                answer.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-encoding"));
                count.fetch_add(1, Ordering::SeqCst);
            }
        }
        drop(rules);
        answer.write(&mut to_client)?;
    }
    Ok(())
}
