//! TLS for the server itself: a server certificate issued under the tenant root (for a city
//! without a publicly trusted certificate — devices pin the root at enrolment), and the rustls
//! configuration `serve` terminates TLS with, reloaded from its files without dropping syncs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chrono::{Datelike, Duration, Utc};
use onevisit_core::identity::DeviceKey;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ED25519, PublicKeyData, SignatureAlgorithm, SigningKey,
};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::tenant::Tenant;

/// How long a server certificate issued under the tenant root is valid.
pub const SERVER_CERTIFICATE_DAYS: i64 = 397;

/// Where `init` and `tls-certificate` write the server's certificate chain and key.
pub fn default_paths(data: &Path) -> (PathBuf, PathBuf) {
    let dir = data.join("tls");
    (dir.join("server.crt"), dir.join("server.key"))
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate could not be made.
    #[error("无法签发服务器证书：{0}")]
    Issue(#[from] rcgen::Error),
    /// A host name is not usable in a certificate.
    #[error("主机名无效：{0}")]
    BadName(String),
    /// A file could not be read or written.
    #[error("{path}：{source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate or key file holds no usable PEM.
    #[error("{0}：不是有效的 PEM 证书链或私钥")]
    Pem(PathBuf),
    /// rustls refused the certificate and key.
    #[error("证书与私钥无法用于 TLS：{0}")]
    Config(#[from] rustls::Error),
}

/// The tenant root key as an X.509 issuer: it signs with the same Ed25519 key devices pin.
struct RootSigner<'a>(&'a DeviceKey, [u8; 32]);

impl PublicKeyData for RootSigner<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.1
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ED25519
    }
}

impl SigningKey for RootSigner<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        Ok(self.0.sign(msg).to_bytes().to_vec())
    }
}

/// A certificate chain (server certificate, then the tenant root's CA certificate) and its key, PEM.
pub struct ServerCertificate {
    /// The chain.
    pub chain_pem: String,
    /// The server's private key (PKCS#8).
    pub key_pem: String,
}

/// A day as rcgen takes it.
macro_rules! day {
    ($t:expr) => {{
        let t: chrono::DateTime<Utc> = $t;
        rcgen::date_time_ymd(t.year(), t.month() as u8, t.day() as u8)
    }};
}

/// Issues a server certificate for `names` (host names or IP addresses) under the tenant root.
pub fn issue_server_certificate(tenant: &Tenant, names: &[String]) -> Result<ServerCertificate, TlsError> {
    if names.is_empty() || names.iter().any(|n| n.trim().is_empty()) {
        return Err(TlsError::BadName(names.join(",")));
    }
    let now = Utc::now();
    let signer = RootSigner(tenant.ca_key(), tenant.root_public_key());
    let mut ca = CertificateParams::default();
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name.push(DnType::CommonName, format!("OneVisit tenant root {}", tenant.id));
    ca.distinguished_name.push(DnType::OrganizationName, "OneVisit");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = day!(now - Duration::days(1));
    ca.not_after = day!(now + Duration::days(20 * 365));
    let ca_cert = ca.self_signed(&signer)?;
    let issuer = Issuer::new(ca, signer);

    let mut leaf = CertificateParams::new(names.to_vec()).map_err(|_| TlsError::BadName(names.join(",")))?;
    leaf.distinguished_name = DistinguishedName::new();
    leaf.distinguished_name.push(DnType::CommonName, names[0].clone());
    leaf.distinguished_name.push(DnType::OrganizationName, format!("OneVisit {}", tenant.id));
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = day!(now - Duration::days(1));
    leaf.not_after = day!(now + Duration::days(SERVER_CERTIFICATE_DAYS));
    let key = KeyPair::generate()?;
    let cert = leaf.signed_by(&key, &issuer)?;
    Ok(ServerCertificate { chain_pem: format!("{}{}", cert.pem(), ca_cert.pem()), key_pem: key.serialize_pem() })
}

/// Writes a certificate chain and key (the key readable by the owner only).
pub fn write_certificate(cert: &ServerCertificate, chain: &Path, key: &Path) -> Result<(), TlsError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Io { path, source }
    };
    if let Some(dir) = chain.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    if let Some(dir) = key.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    std::fs::write(chain, &cert.chain_pem).map_err(io(chain))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    options.open(key).and_then(|mut f| f.write_all(cert.key_pem.as_bytes())).map_err(io(key))?;
    Ok(())
}

/// Builds the rustls server configuration from a PEM chain and key.
pub fn server_config(chain: &Path, key: &Path) -> Result<ServerConfig, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(chain)
        .map_err(|_| TlsError::Pem(chain.to_path_buf()))?
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::Pem(chain.to_path_buf()))?;
    if certs.is_empty() {
        return Err(TlsError::Pem(chain.to_path_buf()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|_| TlsError::Pem(key.to_path_buf()))?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The TLS configuration being served, reloadable from its files: connections already open keep
/// the configuration they started with, new ones get the new one.
pub struct TlsFiles {
    chain: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<ServerConfig>>,
}

impl TlsFiles {
    /// Loads the chain and key.
    pub fn load(chain: &Path, key: &Path) -> Result<TlsFiles, TlsError> {
        let config = server_config(chain, key)?;
        Ok(TlsFiles { chain: chain.to_path_buf(), key: key.to_path_buf(), current: RwLock::new(Arc::new(config)) })
    }

    /// Reads the files again; on failure the configuration in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = Arc::new(server_config(&self.chain, &self.key)?);
        if let Ok(mut current) = self.current.write() {
            *current = config;
        }
        Ok(())
    }

    /// The configuration for a new connection.
    pub fn current(&self) -> Arc<ServerConfig> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}
