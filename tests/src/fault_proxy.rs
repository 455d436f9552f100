//! A TCP proxy on loopback between devices and the server that breaks connections on a seeded
//! schedule, as a bad mobile network does: it closes a connection before the request gets
//! through, drops the answer after the server acted on the request, cuts an answer off part way,
//! or delays it. Faults can be switched off to watch the devices converge afterwards.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::Lcg;

/// What the proxy does to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwards both ways untouched.
    Pass,
    /// Closes the connection before anything reaches the server.
    CloseAtOnce,
    /// Forwards the request, lets the server act on it, and closes before any answer arrives.
    DropAnswer,
    /// Forwards only the first this-many bytes of the answers, then closes.
    CutAnswer(usize),
    /// Holds every piece of the answer back this long.
    DelayAnswer(Duration),
}

/// How many connections met each fault.
#[derive(Debug, Default)]
pub struct FaultCounts {
    /// Connections forwarded untouched.
    pub passed: AtomicU64,
    /// Connections closed at once.
    pub closed: AtomicU64,
    /// Answers dropped after the server acted.
    pub dropped: AtomicU64,
    /// Answers cut off part way.
    pub cut: AtomicU64,
    /// Answers delayed.
    pub delayed: AtomicU64,
}

/// A running proxy; stops accepting when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT` of the proxy.
    pub base: String,
    faults_on: Arc<AtomicBool>,
    queued: Arc<Mutex<VecDeque<Fault>>>,
    stop: Arc<AtomicBool>,
    /// What happened so far.
    pub counts: Arc<FaultCounts>,
    accept: Option<JoinHandle<()>>,
    addr: String,
}

impl FaultProxy {
    /// Proxies to `upstream` (`127.0.0.1:PORT`); once faults are switched on, a share of the
    /// connections chosen by `seed` meets one.
    pub fn start(upstream: &str, seed: u64) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address").to_string();
        listener.set_nonblocking(true).expect("non-blocking accept");
        let faults_on = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(FaultCounts::default());
        let upstream = upstream.to_string();
        let schedule = Arc::new(Mutex::new(Lcg(seed)));
        let queued = Arc::new(Mutex::new(VecDeque::new()));
        let (on, halt, tally, next) = (faults_on.clone(), stop.clone(), counts.clone(), queued.clone());
        let accept = std::thread::spawn(move || {
            while !halt.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let planned = next.lock().expect("queue").pop_front();
                        let fault = if let Some(planned) = planned {
                            planned
                        } else if on.load(Ordering::SeqCst) {
                            next_fault(&mut schedule.lock().expect("schedule"))
                        } else {
                            Fault::Pass
                        };
                        let (upstream, tally) = (upstream.clone(), tally.clone());
                        std::thread::spawn(move || serve(client, &upstream, fault, &tally));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => break,
                }
            }
        });
        FaultProxy { base: format!("http://{addr}"), faults_on, queued, stop, counts, accept: Some(accept), addr }
    }

    /// Starts (`true`) or stops injecting faults into new connections.
    pub fn set_faults(&self, on: bool) {
        self.faults_on.store(on, Ordering::SeqCst);
    }

    /// Meets the next new connections with exactly these faults, in order (then as before).
    pub fn queue(&self, faults: &[Fault]) {
        self.queued.lock().expect("queue").extend(faults.iter().copied());
    }

    /// The proxy's `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}

/// Six connections in ten meet a fault, spread over the kinds. A cut may fall in the first answer
/// or in a later one on the same kept-alive connection.
fn next_fault(rng: &mut Lcg) -> Fault {
    match rng.below(20) {
        0..=7 => Fault::Pass,
        8..=10 => Fault::CloseAtOnce,
        11..=13 => Fault::DropAnswer,
        14..=17 => Fault::CutAnswer(1 + rng.below(24_000)),
        _ => Fault::DelayAnswer(Duration::from_millis(50 + rng.below(250) as u64)),
    }
}

fn serve(client: TcpStream, upstream: &str, fault: Fault, counts: &FaultCounts) {
    let counter = match fault {
        Fault::Pass => &counts.passed,
        Fault::CloseAtOnce => &counts.closed,
        Fault::DropAnswer => &counts.dropped,
        Fault::CutAnswer(_) => &counts.cut,
        Fault::DelayAnswer(_) => &counts.delayed,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    if fault == Fault::CloseAtOnce {
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let Ok(server) = TcpStream::connect(upstream) else { return };
    let timeout = Some(Duration::from_secs(30));
    for s in [&client, &server] {
        let _ = s.set_read_timeout(timeout);
    }
    let (Ok(mut client_reader), Ok(mut server_writer)) = (client.try_clone(), server.try_clone()) else { return };
    let upward = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_reader, &mut server_writer);
        let _ = server_writer.shutdown(Shutdown::Write);
    });
    let (mut server_reader, mut client_writer) = (server, client);
    let mut sent = 0usize;
    let mut buf = [0u8; 8192];
    loop {
        let n = match server_reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match fault {
            Fault::DropAnswer => break,
            Fault::CutAnswer(limit) => {
                let take = n.min(limit.saturating_sub(sent));
                if client_writer.write_all(&buf[..take]).is_err() {
                    break;
                }
                sent += take;
                if sent >= limit {
                    break;
                }
            }
            Fault::DelayAnswer(d) => {
                std::thread::sleep(d);
                if client_writer.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Fault::Pass | Fault::CloseAtOnce => {
                if client_writer.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = client_writer.shutdown(Shutdown::Both);
    let _ = server_reader.shutdown(Shutdown::Both);
    let _ = upward.join();
}
