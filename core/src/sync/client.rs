//! The device's HTTP client for the city server: every request signed with the device key,
//! retried with exponential backoff on network failures, answers cut off while being read, and
//! server errors (every request of the protocol is idempotent), cancellable between attempts,
//! and every refusal turned into a typed error.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::transport::{TlsVerdicts, TransportError, TransportPolicy};
use super::wire::ErrorBody;
use crate::identity::DeviceKey;
use crate::request_auth::{self, RequestAuth};

/// Why talking to the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached or the connection broke (after the retries).
    #[error("无法连接服务器（已重试）：请检查网络和服务器地址；{0}")]
    Network(String),
    /// The server answered, but every answer was cut off before its end (after the retries).
    #[error("服务器的回答被中途截断（{0}），重试后仍未成功：请检查网络后再同步")]
    CutOff(String),
    /// The device's certificate was revoked.
    #[error("{0}。本设备的密钥不能再使用：请联系管理员，用新的设备存储（onevisit init）重新登记")]
    Revoked(String),
    /// The device's certificate expired.
    #[error("本设备的证书已过期（{0}）：请管理员发放新的登记码，重新运行 onevisit enroll")]
    Expired(String),
    /// The server does not accept the device's authentication.
    #[error("服务器拒绝了本设备的认证：{message}")]
    Unauthenticated {
        /// `unauthenticated`, `clock_skew` or `replayed`.
        kind: String,
        /// The server's explanation.
        message: String,
    },
    /// The server refused the request itself.
    #[error("服务器拒绝了请求（HTTP {status}）：{message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The error kind.
        kind: String,
        /// The server's explanation.
        message: String,
    },
    /// The server answered something that is not the protocol.
    #[error("服务器的回答格式错误：{0}")]
    MalformedAnswer(String),
    /// The caller cancelled.
    #[error("已取消")]
    Cancelled,
    /// The connection was not made: plain http to another host, or a server certificate this
    /// device does not trust (not retried: it will not change by itself).
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// A flag another thread sets to stop a sync at the next safe point.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Asks the operation to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether stopping was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How failed requests are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// The first wait; doubled after each failure.
    pub initial_backoff: Duration,
    /// The longest wait.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 5, initial_backoff: Duration::from_millis(200), max_backoff: Duration::from_secs(5) }
    }
}

/// Why a request had to be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryCause {
    /// No connection, or the connection broke before an answer began.
    Unreachable,
    /// The server answered, but the answer was cut off before its end.
    CutOff,
    /// The server answered 5xx.
    ServerTrouble,
    /// The server asked this device to slow down (429).
    Throttled,
}

impl RetryCause {
    /// What happened, for the person waiting (zh-CN).
    pub fn label_zh(self) -> &'static str {
        match self {
            RetryCause::Unreachable => "连不上服务器",
            RetryCause::CutOff => "服务器的应答被截断",
            RetryCause::ServerTrouble => "服务器繁忙或出错",
            RetryCause::Throttled => "请求过于频繁，服务器要求稍候",
        }
    }

    fn code(self) -> u8 {
        match self {
            RetryCause::Unreachable => 1,
            RetryCause::CutOff => 2,
            RetryCause::ServerTrouble => 3,
            RetryCause::Throttled => 4,
        }
    }

    fn from_code(code: u8) -> Option<RetryCause> {
        match code {
            1 => Some(RetryCause::Unreachable),
            2 => Some(RetryCause::CutOff),
            3 => Some(RetryCause::ServerTrouble),
            4 => Some(RetryCause::Throttled),
            _ => None,
        }
    }
}

/// Counters of what went over the wire (bodies and the authentication headers).
#[derive(Debug, Default)]
pub struct Traffic {
    /// Requests sent (retries included).
    pub requests: AtomicU64,
    /// Bytes sent.
    pub bytes_up: AtomicU64,
    /// Bytes received.
    pub bytes_down: AtomicU64,
    /// Attempts that failed and were made again.
    pub retries: AtomicU64,
    /// Why the latest failed attempt failed (see [`Traffic::last_retry`]).
    last_failure: AtomicU8,
}

impl Traffic {
    /// Why the latest attempt that had to be made again failed, if any did.
    pub fn last_retry(&self) -> Option<RetryCause> {
        RetryCause::from_code(self.last_failure.load(Ordering::Relaxed))
    }

    fn failed(&self, cause: RetryCause) {
        self.last_failure.store(cause.code(), Ordering::Relaxed);
    }
}

/// A client bound to one server and one device key (or, to enrol, to no key yet).
pub struct SyncClient {
    http: Client,
    verdicts: Arc<TlsVerdicts>,
    base: String,
    /// Signs every request; `None` only for enrolment, the one unsigned call.
    key: Option<DeviceKey>,
    retry: RetryPolicy,
    /// What went over the wire.
    pub traffic: Traffic,
}

/// A successful answer, read whole.
struct Answer {
    /// Whether the body is deflate-compressed.
    deflated: bool,
    body: Vec<u8>,
}

/// One request to send (re-signed on every attempt).
struct Call<'a> {
    method: reqwest::Method,
    path: &'a str,
    body: Vec<u8>,
    range: Option<String>,
    deflated: bool,
}

impl SyncClient {
    /// A client for `base_url` (e.g. `https://sync.example.gov.cn`) signing with `key`, reaching
    /// the server only as `policy` allows.
    pub fn new(
        base_url: &str,
        key: &DeviceKey,
        policy: &TransportPolicy,
        retry: RetryPolicy,
    ) -> Result<SyncClient, ClientError> {
        SyncClient::connect(base_url, Some(key.duplicate()), policy, retry, Duration::from_secs(120))
    }

    /// A client that signs nothing, for enrolment (the device proves its key in the body); it
    /// retries, honours `Retry-After` and reports refused certificates like every other call.
    pub fn unsigned(base_url: &str, policy: &TransportPolicy, retry: RetryPolicy) -> Result<SyncClient, ClientError> {
        SyncClient::connect(base_url, None, policy, retry, Duration::from_secs(30))
    }

    fn connect(
        base_url: &str,
        key: Option<DeviceKey>,
        policy: &TransportPolicy,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Result<SyncClient, ClientError> {
        let (http, verdicts) = super::transport::http_client(base_url, policy, Duration::from_secs(10), timeout)?;
        Ok(SyncClient {
            http,
            verdicts,
            base: base_url.trim_end_matches('/').to_string(),
            key,
            retry,
            traffic: Traffic::default(),
        })
    }

    /// Which server certificates this client accepted (fixed at enrolment from then on).
    pub fn tls_trust(&self) -> Option<super::TlsTrust> {
        self.verdicts.accepted()
    }

    /// POSTs JSON and reads JSON.
    pub fn post_json<T: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &T,
        cancel: &CancelToken,
    ) -> Result<R, ClientError> {
        let body = serde_json::to_vec(body).map_err(|e| ClientError::MalformedAnswer(e.to_string()))?;
        let answer =
            self.send(Call { method: reqwest::Method::POST, path, body, range: None, deflated: false }, cancel)?;
        read_json(answer)
    }

    /// POSTs a JSON body already compressed with [`super::wire::deflate`], and reads JSON.
    pub fn post_deflated<R: DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
        cancel: &CancelToken,
    ) -> Result<R, ClientError> {
        let answer =
            self.send(Call { method: reqwest::Method::POST, path, body, range: None, deflated: true }, cancel)?;
        read_json(answer)
    }

    /// GETs JSON.
    pub fn get_json<R: DeserializeOwned>(&self, path: &str, cancel: &CancelToken) -> Result<R, ClientError> {
        let answer = self.send(
            Call { method: reqwest::Method::GET, path, body: Vec::new(), range: None, deflated: false },
            cancel,
        )?;
        read_json(answer)
    }

    /// PUTs raw bytes, expecting no body back.
    pub fn put_bytes(&self, path: &str, body: Vec<u8>, cancel: &CancelToken) -> Result<(), ClientError> {
        self.send(Call { method: reqwest::Method::PUT, path, body, range: None, deflated: false }, cancel).map(|_| ())
    }

    /// POSTs JSON, expecting no body back.
    pub fn post_empty<T: Serialize>(&self, path: &str, body: &T, cancel: &CancelToken) -> Result<(), ClientError> {
        let body = serde_json::to_vec(body).map_err(|e| ClientError::MalformedAnswer(e.to_string()))?;
        self.send(Call { method: reqwest::Method::POST, path, body, range: None, deflated: false }, cancel).map(|_| ())
    }

    /// GETs bytes `[start, end)` of a resource.
    pub fn get_range(&self, path: &str, start: u64, end: u64, cancel: &CancelToken) -> Result<Vec<u8>, ClientError> {
        let range = Some(format!("bytes={start}-{}", end - 1));
        let answer =
            self.send(Call { method: reqwest::Method::GET, path, body: Vec::new(), range, deflated: false }, cancel)?;
        Ok(answer.body)
    }

    fn request(&self, call: &Call<'_>) -> RequestBuilder {
        let mut builder = self.http.request(call.method.clone(), format!("{}{}", self.base, call.path));
        if let Some(key) = &self.key {
            let now = chrono::Utc::now().timestamp_millis();
            let auth = RequestAuth::sign(key, call.method.as_str(), call.path, &call.body, now);
            builder = builder
                .header(request_auth::HEADER_DEVICE, &auth.device)
                .header(request_auth::HEADER_TIMESTAMP, auth.timestamp_ms.to_string())
                .header(request_auth::HEADER_NONCE, &auth.nonce)
                .header(request_auth::HEADER_SIGNATURE, &auth.signature);
        }
        if let Some(range) = &call.range {
            builder = builder.header(reqwest::header::RANGE, range);
        }
        if call.deflated {
            builder = builder
                .header(reqwest::header::CONTENT_ENCODING, super::wire::DEFLATE)
                .header(reqwest::header::ACCEPT_ENCODING, super::wire::DEFLATE);
        }
        if !call.body.is_empty() {
            builder = builder.header(reqwest::header::CONTENT_TYPE, "application/json").body(call.body.clone());
        }
        builder
    }

    /// Sends with retries and reads the whole answer; returns it or the typed refusal. A body
    /// cut off while being read is retried like a failed connection: every request of the
    /// protocol is idempotent, so the server applying one twice changes nothing.
    fn send(&self, call: Call<'_>, cancel: &CancelToken) -> Result<Answer, ClientError> {
        let mut backoff = self.retry.initial_backoff;
        let mut asked: Option<Duration> = None;
        let mut last = ClientError::Network("no attempt made".into());
        for attempt in 0..self.retry.attempts.max(1) {
            if cancel.is_cancelled() {
                return Err(ClientError::Cancelled);
            }
            if attempt > 0 {
                self.traffic.retries.fetch_add(1, Ordering::Relaxed);
                // Never sooner than the server asked (Retry-After), jitter or not.
                let wait = jittered(backoff).max(asked.take().unwrap_or_default());
                tracing::warn!(
                    target: "onevisit::sync",
                    path = call.path,
                    attempt,
                    cause = ?self.traffic.last_retry(),
                    wait_ms = wait.as_millis() as u64,
                    "retrying"
                );
                sleep_unless_cancelled(wait, cancel)?;
                backoff = (backoff * 2).min(self.retry.max_backoff);
            }
            self.traffic.requests.fetch_add(1, Ordering::Relaxed);
            let request = match self.request(&call).build() {
                Ok(r) => r,
                Err(e) => return Err(ClientError::Network(e.to_string())),
            };
            self.traffic.bytes_up.fetch_add(call.body.len() as u64 + wire_header_bytes(&request), Ordering::Relaxed);
            match self.http.execute(request) {
                Err(e) => {
                    if let Some(refusal) = self.verdicts.refusal() {
                        return Err(ClientError::Transport(refusal));
                    }
                    self.traffic.failed(RetryCause::Unreachable);
                    last = ClientError::Network(e.to_string());
                }
                Ok(response) if response.status().is_success() => {
                    let deflated = response
                        .headers()
                        .get(reqwest::header::CONTENT_ENCODING)
                        .is_some_and(|v| v.as_bytes() == super::wire::DEFLATE.as_bytes());
                    match response.bytes() {
                        Ok(body) => {
                            self.traffic.bytes_down.fetch_add(body.len() as u64, Ordering::Relaxed);
                            return Ok(Answer { deflated, body: body.to_vec() });
                        }
                        Err(e) => {
                            self.traffic.failed(RetryCause::CutOff);
                            last = ClientError::CutOff(e.to_string());
                        }
                    }
                }
                Ok(response) => {
                    let status = response.status();
                    let asked_wait = retry_after(&response);
                    let error = refusal(status.as_u16(), response);
                    // Server trouble is worth retrying; a refusal is not. A server that says how
                    // long to wait (429 or 503 with Retry-After) is waited for, up to a bound.
                    // A wait longer than a device honours (a lockout of minutes) is not slept
                    // through: the refusal comes back at once, saying when to try again.
                    if asked_wait.is_some_and(|w| w > MAX_RETRY_AFTER) {
                        return Err(error);
                    }
                    if status.is_server_error() || status.as_u16() == 429 {
                        self.traffic.failed(if status.as_u16() == 429 {
                            RetryCause::Throttled
                        } else {
                            RetryCause::ServerTrouble
                        });
                        asked = asked_wait.map(|w| w.min(MAX_RETRY_AFTER));
                        last = error;
                    } else {
                        return Err(error);
                    }
                }
            }
        }
        tracing::warn!(target: "onevisit::sync", path = call.path, error = %last, "giving up after retries");
        Err(last)
    }
}

/// Reads an answer's JSON, inflating it first when it came compressed.
fn read_json<R: DeserializeOwned>(answer: Answer) -> Result<R, ClientError> {
    let json = if answer.deflated {
        super::wire::inflate(&answer.body, 8 * super::wire::MAX_BODY_BYTES)
            .map_err(|e| ClientError::MalformedAnswer(e.to_string()))?
    } else {
        answer.body
    };
    serde_json::from_slice(&json).map_err(|e| ClientError::MalformedAnswer(e.to_string()))
}

/// The bytes of a request's line and headers as HTTP/1.1 sends them (Host and Content-Length
/// included, which reqwest adds on the wire).
fn wire_header_bytes(request: &reqwest::blocking::Request) -> u64 {
    let url = request.url();
    let line = request.method().as_str().len() + url.path().len() + url.query().map_or(0, |q| q.len() + 1) + 12;
    let headers: usize = request.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    let host = 8 + url.host_str().map_or(0, str::len) + 6;
    let length = 20;
    (line + headers + host + length + 2) as u64
}

/// The longest `Retry-After` a device honours before trying again (it may still give up after
/// its attempts).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The wait a server asked for with `Retry-After: <seconds>`.
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn refusal(status: u16, response: Response) -> ClientError {
    let body: ErrorBody = response.json().unwrap_or(ErrorBody { error: "unknown".into(), message: String::new() });
    match body.error.as_str() {
        "revoked" => ClientError::Revoked(body.message),
        "expired" => ClientError::Expired(body.message),
        "unauthenticated" | "clock_skew" | "replayed" => {
            ClientError::Unauthenticated { kind: body.error, message: body.message }
        }
        _ => ClientError::Refused { status, kind: body.error, message: body.message },
    }
}

/// ±25 % jitter so that many devices retrying together spread out.
fn jittered(d: Duration) -> Duration {
    let mut b = [0u8; 1];
    crate::random::fill(&mut b);
    let factor = 0.75 + (b[0] as f64 / 255.0) * 0.5;
    d.mul_f64(factor)
}

fn sleep_unless_cancelled(total: Duration, cancel: &CancelToken) -> Result<(), ClientError> {
    let step = Duration::from_millis(20);
    let mut waited = Duration::ZERO;
    while waited < total {
        if cancel.is_cancelled() {
            return Err(ClientError::Cancelled);
        }
        std::thread::sleep(step.min(total - waited));
        waited += step;
    }
    Ok(())
}
