//! A load balancer on loopback in front of several server replicas, as a city runs one: every
//! HTTP request goes to the next replica in turn (not every connection), so one device's sync is
//! served by all of them; a replica that refuses connections (killed) is skipped. It logs which
//! replica served which request path.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The balancer; stops accepting when dropped.
pub struct RoundRobin {
    addr: String,
    stop: Arc<AtomicBool>,
    served: Arc<Mutex<Vec<(usize, String)>>>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    upstreams: Vec<String>,
    next: AtomicUsize,
    served: Arc<Mutex<Vec<(usize, String)>>>,
}

impl RoundRobin {
    /// Balances over `upstreams` (`127.0.0.1:PORT` each).
    #[allow(clippy::expect_used, reason = "test support: a balancer that cannot bind is the failure")]
    pub fn start(upstreams: &[String]) -> RoundRobin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the balancer");
        let addr = listener.local_addr().expect("balancer address").to_string();
        listener.set_nonblocking(true).expect("non-blocking accept");
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(Mutex::new(Vec::new()));
        let shared =
            Arc::new(Shared { upstreams: upstreams.to_vec(), next: AtomicUsize::new(0), served: served.clone() });
        let accept = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let shared = shared.clone();
                            std::thread::spawn(move || serve_connection(client, &shared));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        RoundRobin { addr, stop, served, accept: Some(accept) }
    }

    /// `http://127.0.0.1:PORT` of the balancer.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Which replica (index) served each request path so far, in order.
    pub fn served(&self) -> Vec<(usize, String)> {
        self.served.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for RoundRobin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// One request off the client connection: its head (with `Connection: close`) and body, and its path.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(Vec<u8>, String)> {
    let mut head = Vec::new();
    let mut length = 0usize;
    let mut path = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if path.is_empty() {
            path = line.split_whitespace().nth(1).unwrap_or_default().to_string();
            head.extend_from_slice(line.as_bytes());
            head.extend_from_slice(b"Connection: close\r\n");
            continue;
        }
        if line == "\r\n" {
            head.extend_from_slice(line.as_bytes());
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
        if !lower.starts_with("connection:") {
            head.extend_from_slice(line.as_bytes());
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    head.extend_from_slice(&body);
    Some((head, path))
}

/// Serves one request of a client connection: the answer carries `Connection: close` from the
/// replica, so the device opens a new connection for its next request (and meets the next replica).
fn serve_connection(client: TcpStream, shared: &Shared) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(mut writer) = client.try_clone() else { return };
    let mut reader = BufReader::new(client);
    if let Some((request, path)) = read_request(&mut reader) {
        // The next replica that takes the connection, as a balancer's health check would.
        let mut upstream = None;
        for _ in 0..shared.upstreams.len() {
            let i = shared.next.fetch_add(1, Ordering::Relaxed) % shared.upstreams.len();
            if let Ok(s) = TcpStream::connect(&shared.upstreams[i]) {
                upstream = Some((i, s));
                break;
            }
        }
        if let Some((index, mut server)) = upstream {
            if let Ok(mut served) = shared.served.lock() {
                served.push((index, path));
            }
            let _ = server.set_read_timeout(Some(Duration::from_secs(60)));
            let mut answer = Vec::new();
            // A replica that dies mid-request leaves a short or empty answer: the device sees a
            // broken connection, as it would behind a real balancer.
            if server.write_all(&request).is_ok() && server.read_to_end(&mut answer).is_ok() {
                let _ = writer.write_all(&answer);
            }
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}
