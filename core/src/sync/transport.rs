//! How a device reaches its city server: https through rustls (ring provider, so the same code
//! builds for Android and iOS), trusting either a server certificate issued under the tenant root
//! the device already pins, or — for a city with a publicly trusted certificate — the Mozilla root
//! programme bundled with the app. Plain http only to this machine, or when a developer asks.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde::{Deserialize, Serialize};

/// Which server certificates a device accepts; fixed at enrolment by what the server showed then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsTrust {
    /// Only a certificate chain ending at the tenant root key (the city has no public certificate).
    TenantRoot,
    /// A certificate from the public root programme, or one issued under the tenant root.
    PublicRoots,
}

impl TlsTrust {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsTrust::TenantRoot => "tenant_root",
            TlsTrust::PublicRoots => "public_roots",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<TlsTrust> {
        match s {
            "tenant_root" => Some(TlsTrust::TenantRoot),
            "public_roots" => Some(TlsTrust::PublicRoots),
            _ => None,
        }
    }
}

/// Why a connection to the server was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The server address is not an http(s) URL with a host.
    #[error("服务器地址无效：{0}（应形如 https://sync.example.gov.cn）")]
    BadUrl(String),
    /// Plain http to another machine: anyone on the path would read and rewrite the traffic.
    #[error("拒绝以明文 HTTP 连接其他主机 {0}：请使用 https://（仅开发时可明确允许明文 HTTP）")]
    PlainHttp(String),
    /// The server's certificate is not issued under the tenant root this device pins.
    #[error("服务器证书不是本租户根密钥签发的证书（本设备已固定租户根密钥）：{0}")]
    NotPinned(String),
    /// The server's certificate is not trusted at all.
    #[error("服务器证书不受信任：{0}")]
    Untrusted(String),
    /// The TLS configuration could not be built (a bug).
    #[error("无法建立 TLS 配置：{0}")]
    Config(String),
}

/// What a device is allowed to connect to.
#[derive(Debug, Clone, Copy)]
pub struct TransportPolicy {
    /// The tenant root key the device pins.
    pub root_public_key: [u8; 32],
    /// Which certificates it accepts; `None` before enrolment (either, and remember which).
    pub trust: Option<TlsTrust>,
    /// Allows plain http to any host (development only).
    pub allow_plain_http: bool,
}

/// Whether `host` is this machine (plain http stays on the device).
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks the server URL against the policy; returns whether it is https.
pub fn check_url(url: &str, allow_plain_http: bool) -> Result<bool, TransportError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| TransportError::BadUrl(url.to_string()))?;
    let host = parsed.host_str().ok_or_else(|| TransportError::BadUrl(url.to_string()))?;
    match parsed.scheme() {
        "https" => Ok(true),
        "http" if allow_plain_http || is_loopback(host) => Ok(false),
        "http" => Err(TransportError::PlainHttp(host.to_string())),
        _ => Err(TransportError::BadUrl(url.to_string())),
    }
}

/// The outcome of the latest certificate check, kept so a failed request can say why.
#[derive(Debug, Default)]
pub struct TlsVerdicts {
    last: Mutex<Option<Result<TlsTrust, TransportError>>>,
}

impl TlsVerdicts {
    /// Which trust path the latest accepted certificate took, if one was accepted last.
    pub fn accepted(&self) -> Option<TlsTrust> {
        self.last.lock().ok().and_then(|l| l.clone()).and_then(Result::ok)
    }

    /// Why the latest certificate was refused, if it was.
    pub fn refusal(&self) -> Option<TransportError> {
        self.last.lock().ok().and_then(|l| l.clone()).and_then(Result::err)
    }

    fn set(&self, verdict: Result<TlsTrust, TransportError>) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some(verdict);
        }
    }
}

/// Builds the blocking HTTP client for `url` under `policy`, with the verdicts of its checks.
pub fn http_client(
    url: &str,
    policy: &TransportPolicy,
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<(reqwest::blocking::Client, Arc<TlsVerdicts>), TransportError> {
    check_url(url, policy.allow_plain_http)?;
    let verdicts = Arc::new(TlsVerdicts::default());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = TenantVerifier::new(policy, provider.clone(), verdicts.clone())?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .tls_backend_preconfigured(config)
        .https_only(!url.starts_with("http://"))
        .build()
        .map_err(|e| TransportError::Config(e.to_string()))?;
    Ok((client, verdicts))
}

/// The value of an Ed25519 SubjectPublicKeyInfo (inside its outer SEQUENCE), as webpki keeps it.
fn ed25519_spki_value(key: &[u8; 32]) -> Vec<u8> {
    let mut v = vec![0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
    v.extend_from_slice(key);
    v
}

/// Accepts a chain ending at the pinned tenant root (its CA certificate is sent by the server and
/// accepted only when its key is the pinned one), or, when allowed, a publicly trusted chain.
#[derive(Debug)]
struct TenantVerifier {
    root_spki: Vec<u8>,
    public: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    verdicts: Arc<TlsVerdicts>,
}

impl TenantVerifier {
    fn new(
        policy: &TransportPolicy,
        provider: Arc<CryptoProvider>,
        verdicts: Arc<TlsVerdicts>,
    ) -> Result<TenantVerifier, TransportError> {
        let public = match policy.trust {
            Some(TlsTrust::TenantRoot) => None,
            None | Some(TlsTrust::PublicRoots) => {
                let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
                Some(
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| TransportError::Config(e.to_string()))?,
                )
            }
        };
        Ok(TenantVerifier { root_spki: ed25519_spki_value(&policy.root_public_key), public, provider, verdicts })
    }

    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<TlsTrust, TransportError> {
        let tenant_ca = intermediates.iter().find_map(|c| {
            webpki::anchor_from_trusted_cert(c)
                .ok()
                .filter(|a| a.subject_public_key_info.as_ref() == self.root_spki.as_slice())
                .map(|a| a.to_owned())
        });
        if let Some(anchor) = tenant_ca {
            let roots = RootCertStore { roots: vec![anchor] };
            let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| TransportError::Config(e.to_string()))?;
            return verifier
                .verify_server_cert(end_entity, &[], server_name, ocsp, now)
                .map(|_| TlsTrust::TenantRoot)
                .map_err(|e| TransportError::Untrusted(e.to_string()));
        }
        match &self.public {
            Some(public) => public
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
                .map(|_| TlsTrust::PublicRoots)
                .map_err(|e| TransportError::Untrusted(e.to_string())),
            None => Err(TransportError::NotPinned("证书链中没有以固定的租户根密钥签发的证书".into())),
        }
    }
}

impl ServerCertVerifier for TenantVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.check(end_entity, intermediates, server_name, ocsp_response, now);
        let outcome = match &verdict {
            Ok(_) => Ok(ServerCertVerified::assertion()),
            Err(_) => Err(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)),
        };
        self.verdicts.set(verdict);
        outcome
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_refused_except_to_this_machine() {
        assert_eq!(check_url("https://sync.example.gov.cn", false), Ok(true));
        assert_eq!(check_url("http://127.0.0.1:8080", false), Ok(false));
        assert_eq!(check_url("http://localhost:8080", false), Ok(false));
        assert_eq!(check_url("http://[::1]:8080", false), Ok(false));
        assert_eq!(check_url("http://10.0.0.5:8080", false), Err(TransportError::PlainHttp("10.0.0.5".into())));
        assert_eq!(check_url("http://10.0.0.5:8080", true), Ok(false));
        assert!(matches!(check_url("sync.example.gov.cn", false), Err(TransportError::BadUrl(_))));
        assert!(matches!(check_url("ftp://sync.example.gov.cn", false), Err(TransportError::BadUrl(_))));
    }

    #[test]
    fn trust_modes_round_trip_their_stored_form() {
        for t in [TlsTrust::TenantRoot, TlsTrust::PublicRoots] {
            assert_eq!(TlsTrust::parse(t.as_str()), Some(t));
        }
        assert_eq!(TlsTrust::parse("none"), None);
    }
}
