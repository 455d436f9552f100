//! OneVisit core: everything a device does offline — the domain model, inspection records as
//! Automerge documents, the SQLite device store, the device key and the signed audit log.

pub mod audit;
pub mod beijing;
pub mod bundle;
pub mod canonical;
pub mod certificate;
pub mod document;
pub mod domain;
pub mod draw;
pub mod evidence;
pub mod figures;
pub mod identity;
pub mod qr;
pub mod random;
pub mod record;
pub mod request_auth;
pub mod sample;
pub mod seal;
pub mod signed;
pub mod store;
pub mod sync;
pub mod task_token;
