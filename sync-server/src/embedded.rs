//! The embedded default in one call: SQLite and blob files under a data directory, served on a
//! loopback port from a background thread, with the admin steps a demo or an app test needs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use onevisit_core::domain::{Directory, TaskDraft};

use crate::api::{AppState, code_hash};
use crate::blobs::{BlobError, BlobStorage, FileBlobs, UploadLimits};
use crate::listener::ConnectionLimits;
use crate::storage::sqlite::SqliteStorage;
use crate::storage::{Storage, StorageError};
use crate::tasks::{self, PlanError};
use crate::tenant::{Tenant, TenantError};
use crate::throttle::{RateLimits, Throttle};
use crate::tls::TlsFiles;

/// Why the embedded server could not start or act.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The tenant CA failed.
    #[error(transparent)]
    Tenant(#[from] TenantError),
    /// Blob storage failed.
    #[error(transparent)]
    Blobs(#[from] BlobError),
    /// Planning failed.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The runtime or socket failed.
    #[error("内置服务器无法启动：{0}")]
    Io(#[from] std::io::Error),
}

/// How the server serves: TLS, the metrics token, and its limits.
#[derive(Default)]
pub struct ServeOptions {
    /// The bearer token `/metrics` requires (without one, `/metrics` is not served).
    pub metrics_token: Option<String>,
    /// TLS terminated by the server itself (plain http without, e.g. behind a reverse proxy).
    pub tls: Option<Arc<TlsFiles>>,
    /// Connection cap and timeouts.
    pub connections: ConnectionLimits,
    /// Rate limits and enrolment lockouts.
    pub rates: RateLimits,
    /// How long a request body may take to arrive.
    pub body_timeout: Option<std::time::Duration>,
    /// Quota and expiry of unfinished uploads.
    pub uploads: UploadLimits,
    /// The estimated bytes loaded records may take ([`crate::records::DEFAULT_CACHE_BYTES`] when absent).
    pub record_cache_bytes: Option<usize>,
}

/// The longest pause between two sweeps of expired uploads.
const SWEEP_AT_MOST_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// Bodies arrive within this by default (a 1 MiB chunk over a slow mobile link fits).
pub const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Serves `storage` and `blobs` on `listener` until `shutdown` resolves.
pub async fn serve<S: Storage, B: BlobStorage>(
    storage: S,
    blobs: B,
    data: &Path,
    listener: tokio::net::TcpListener,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), EmbeddedError> {
    let tenant = Tenant::open(&storage, data).await?;
    let counters = Arc::new(crate::listener::ConnectionCounters::default());
    let certificates = crate::certificates::VerifiedCertificates::new(tenant.root_key());
    let state = Arc::new(AppState {
        storage,
        blobs,
        tenant,
        certificates,
        records: crate::records::Records::with_budget(
            options.record_cache_bytes.unwrap_or(crate::records::DEFAULT_CACHE_BYTES),
        ),
        metrics: Default::default(),
        metrics_token: options.metrics_token.filter(|t| !t.is_empty()),
        throttle: Throttle::new(options.rates),
        body_timeout: options.body_timeout.unwrap_or(DEFAULT_BODY_TIMEOUT),
        connections: counters.clone(),
        facts: Default::default(),
        sealer: Default::default(),
    });
    // Unfinished uploads past their expiry are swept while the server runs.
    let sweeper = {
        let state = state.clone();
        let every = (options.uploads.expiry / 4).clamp(std::time::Duration::from_secs(1), SWEEP_AT_MOST_EVERY);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match state.blobs.expire().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "expired unfinished uploads removed"),
                    Err(e) => tracing::warn!(error = %e, "sweeping unfinished uploads failed"),
                }
            }
        })
    };
    let served = crate::listener::serve(
        listener,
        crate::http::router(state),
        options.tls,
        options.connections,
        counters,
        shutdown,
    )
    .await;
    sweeper.abort();
    served?;
    Ok(())
}

/// A server running in this process on a loopback port; stopped when dropped.
pub struct EmbeddedServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The tenant root public key (hex).
    pub root_public_key: String,
    data: PathBuf,
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    storage: SqliteStorage,
}

impl EmbeddedServer {
    /// Creates a tenant with `directory` in `data` (a new directory) and serves it on 127.0.0.1.
    pub fn start(data: &Path, tenant: &str, directory: &Directory) -> Result<EmbeddedServer, EmbeddedError> {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let storage = SqliteStorage::open(data)?;
        let json = serde_json::to_string(&directory.to_data()).map_err(|e| StorageError::Database(Box::new(e)))?;
        let (root, listener) = runtime.block_on(async {
            let t = Tenant::init(&storage, data, tenant).await?;
            storage.put_directory(json).await?;
            let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
            Ok::<_, EmbeddedError>((hex::encode(t.root_public_key()), listener))
        })?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = storage.clone();
        let dir = data.to_path_buf();
        runtime.spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            let options = ServeOptions::default();
            let served = match FileBlobs::with_limits(&dir.join("blobs"), options.uploads) {
                Ok(blobs) => serve(serving, blobs, &dir, listener, options, shutdown).await,
                Err(e) => Err(e.into()),
            };
            if let Err(e) = served {
                tracing::error!(error = %e, "embedded server stopped");
            }
        });
        Ok(EmbeddedServer {
            base: format!("http://{addr}"),
            root_public_key: root,
            data: data.to_path_buf(),
            runtime,
            stop: Some(stop),
            storage,
        })
    }

    /// A one-time enrolment code for an inspector, valid for an hour.
    pub fn enrolment_code(&self, inspector: &str) -> Result<String, EmbeddedError> {
        let code = crate::enrolment_code();
        let expires = chrono::Utc::now().timestamp_millis() + 3_600_000;
        self.runtime.block_on(self.storage.create_enrolment(code_hash(&code), inspector.to_string(), expires))?;
        Ok(code)
    }

    /// Plans tasks as the administrator would; returns their codes.
    pub fn plan(&self, directory: &Directory, drafts: Vec<TaskDraft>) -> Result<Vec<String>, EmbeddedError> {
        self.runtime.block_on(async {
            let tenant = Tenant::open(&self.storage, &self.data).await?;
            let now = chrono::Utc::now().timestamp_millis();
            let created = tasks::create(&self.storage, &tenant, directory, drafts, now).await?;
            Ok(created.into_iter().map(|t| t.code.to_string()).collect())
        })
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
