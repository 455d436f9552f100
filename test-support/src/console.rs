//! A console client for tests and benchmarks without a browser: plain HTTP on loopback, cookies
//! kept by hand (the session cookie is `Secure`, which a browser still sends to
//! `http://127.0.0.1`), redirects not followed, so the caller sees exactly what the server answered.

use std::collections::BTreeMap;
use std::time::Duration;

/// What the server answered.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Where a redirect points.
    pub location: Option<String>,
    /// Every `Set-Cookie` header.
    pub set_cookies: Vec<String>,
    /// The body's content type.
    pub content_type: Option<String>,
    /// The body.
    pub body: String,
}

/// One browser's worth of console state.
pub struct ConsoleClient {
    base: String,
    http: reqwest::blocking::Client,
    /// The cookies held, by name.
    pub cookies: BTreeMap<String, String>,
}

impl ConsoleClient {
    /// A client for the server at `base`, holding no cookie.
    #[allow(clippy::expect_used, reason = "test support: a client that cannot be built is the failure")]
    pub fn new(base: &str) -> ConsoleClient {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        ConsoleClient { base: base.trim_end_matches('/').to_string(), http, cookies: BTreeMap::new() }
    }

    fn send(&mut self, request: reqwest::blocking::RequestBuilder) -> Answer {
        let (answer, bytes) = self.send_raw(request);
        Answer { body: String::from_utf8_lossy(&bytes).into_owned(), ..answer }
    }

    /// Sends a request; the answer (its body empty) and the body's bytes.
    fn send_raw(&mut self, request: reqwest::blocking::RequestBuilder) -> (Answer, Vec<u8>) {
        let cookie: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let request = if cookie.is_empty() { request } else { request.header("Cookie", cookie.join("; ")) };
        let response = match request.send() {
            Ok(r) => r,
            Err(e) => {
                let answer = Answer {
                    status: 0,
                    location: None,
                    set_cookies: Vec::new(),
                    content_type: None,
                    body: e.to_string(),
                };
                return (answer, Vec::new());
            }
        };
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let location = header("location");
        let content_type = header("content-type");
        let set_cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        for c in &set_cookies {
            if let Some((name, value)) = c.split(';').next().and_then(|pair| pair.split_once('=')) {
                if value.is_empty() {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_string(), value.to_string());
                }
            }
        }
        let answer = Answer { status, location, set_cookies, content_type, body: String::new() };
        (answer, response.bytes().map(|b| b.to_vec()).unwrap_or_default())
    }

    /// GET `path`: the answer (its body empty) and the body's bytes (an image, a file).
    pub fn get_bytes(&mut self, path: &str) -> (Answer, Vec<u8>) {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send_raw(request)
    }

    /// POST a `multipart/form-data` form: `fields` in order, then one file.
    pub fn post_file(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file_field: &str,
        file_name: &str,
        bytes: &[u8],
    ) -> Answer {
        let boundary = "----onevisit-test-boundary-7d1f";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{file_name}\"\r\n\
                 Content-Type: application/zip\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
            .body(body);
        self.send(request)
    }

    /// GET `path`.
    pub fn get(&mut self, path: &str) -> Answer {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request)
    }

    /// POST a form to `path`.
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.join("&"));
        self.send(request)
    }

    /// Loads the login page and submits it; returns the answer to the submission.
    pub fn login(&mut self, name: &str, password: &str) -> Answer {
        let page = self.get("/console/login");
        let binding = hidden(&page.body, "binding").unwrap_or_default();
        self.post("/console/login", &[("name", name), ("password", password), ("binding", &binding)])
    }

    /// The CSRF token of the session, from a page's forms.
    pub fn csrf(&mut self) -> String {
        let page = self.get("/console/dashboard");
        hidden(&page.body, "csrf").unwrap_or_default()
    }
}

/// The value of a hidden input named `name` in a page.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

/// `application/x-www-form-urlencoded` encoding of one key or value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => (b as char).to_string(),
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
