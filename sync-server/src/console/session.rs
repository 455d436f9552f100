//! Logging in and out of the console, and who is asking: a session cookie (HttpOnly, Secure,
//! SameSite=Strict, the token stored only as its hash) and a CSRF token every form carries. Wrong
//! passwords lock out the name and the address, counted in storage like wrong enrolment codes.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Form;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::ConsoleError;
use super::accounts::{Role, decoy_hash, verify_password};
use super::pages::{LoginPage, page};
use crate::api::{AppState, now_ms};
use crate::blobs::BlobStorage;
use crate::storage::{ConsoleSession, ConsoleUser, Storage};

/// The session cookie.
pub const SESSION_COOKIE: &str = "onevisit_console";
/// The cookie that binds the login form to the browser that loaded it (login CSRF).
const LOGIN_COOKIE: &str = "onevisit_login";
/// How long a session lasts.
const SESSION_MS: i64 = 8 * 3600 * 1000;

/// The person asking, from a live session.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Their account.
    pub user: ConsoleUser,
    /// What they may do.
    pub role: Role,
    /// The session (its CSRF token goes into every form).
    pub session: ConsoleSession,
}

impl Viewer {
    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, given: &str) -> Result<(), ConsoleError> {
        if same(given, &self.session.csrf) { Ok(()) } else { Err(ConsoleError::Csrf) }
    }

    /// The department a page shows: a supervisor's own whatever was asked, else the one asked
    /// for (none when empty: the whole city).
    pub fn department_shown(&self, asked: Option<&str>) -> Option<String> {
        match self.role.department() {
            Some(own) => Some(own.to_string()),
            None => asked.filter(|d| !d.is_empty()).map(str::to_string),
        }
    }

    /// Refuses a city-wide change (draws, devices): a form without this session's CSRF token,
    /// or anyone but an administrator.
    pub fn may_administer(&self, csrf: &str) -> Result<(), ConsoleError> {
        self.check_csrf(csrf)?;
        if self.role.may_administer() { Ok(()) } else { Err(ConsoleError::Forbidden) }
    }
}

/// Compares two secrets as digests, so the time taken says nothing about how much matched.
fn same(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_token() -> String {
    let mut raw = [0u8; 32];
    onevisit_core::random::fill(&mut raw);
    hex::encode(raw)
}

/// A cookie's value from the request's headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(name: &str, value: &str, max_age_s: i64) -> HeaderValue {
    let text = format!("{name}={value}; Path=/console; HttpOnly; Secure; SameSite=Strict; Max-Age={max_age_s}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

impl<S: Storage, B: BlobStorage> FromRequestParts<Arc<AppState<S, B>>> for Viewer {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState<S, B>>) -> Result<Viewer, ConsoleError> {
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(ConsoleError::NoSession)?;
        let session = state.storage.session(token_hash(token), now_ms()).await?.ok_or(ConsoleError::NoSession)?;
        let user = state.storage.user(session.user.clone()).await?.ok_or(ConsoleError::NoSession)?;
        let role = Role::of(&user).ok_or(ConsoleError::NoSession)?;
        if user.disabled {
            return Err(ConsoleError::NoSession);
        }
        Ok(Viewer { user, role, session })
    }
}

/// The login form, bound to this browser by a fresh cookie.
pub async fn login_form() -> Response {
    let binding = random_token();
    let mut response = page(&LoginPage { binding: binding.clone(), message: None }).into_response();
    response.headers_mut().append(SET_COOKIE, set_cookie(LOGIN_COOKIE, &binding, 3600));
    response
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    binding: String,
}

/// Checks the password; on success starts a session and goes to the dashboard.
pub async fn login<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ConsoleError> {
    if !cookie(&headers, LOGIN_COOKIE).is_some_and(|c| same(c, &form.binding)) {
        return Err(ConsoleError::Csrf);
    }
    let now = now_ms();
    let name = form.name.trim().to_string();
    if let Err(wait) = state.throttle.login_allowed(&state.storage, peer.ip(), &name, now).await? {
        return Err(ConsoleError::Throttled(wait.seconds()));
    }
    let user = state.storage.user(name.clone()).await?;
    let hash = user.as_ref().map_or(decoy_hash(), |u| u.password_hash.as_str()).to_string();
    let password = form.password;
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    let user = match user {
        Some(u) if matches && !u.disabled && Role::of(&u).is_some() => u,
        _ => {
            state.throttle.login_failed(&state.storage, peer.ip(), &name, now).await?;
            let again = random_token();
            let mut response = page(&LoginPage {
                binding: again.clone(),
                message: Some("账号或密码不对，或账号已停用".into()),
            })
            .into_response();
            *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            response.headers_mut().append(SET_COOKIE, set_cookie(LOGIN_COOKIE, &again, 3600));
            return Ok(response);
        }
    };
    let token = random_token();
    let session = ConsoleSession {
        token_sha256: token_hash(&token),
        user: user.name,
        csrf: random_token(),
        expires_at_ms: now + SESSION_MS,
    };
    state.storage.create_session(session, now).await?;
    let mut response = Redirect::to("/console/dashboard").into_response();
    response.headers_mut().append(SET_COOKIE, set_cookie(SESSION_COOKIE, &token, SESSION_MS / 1000));
    response.headers_mut().append(SET_COOKIE, set_cookie(LOGIN_COOKIE, "", 0));
    Ok(response)
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    /// The session's CSRF token.
    pub csrf: String,
}

/// Ends the session.
pub async fn logout<S: Storage, B: BlobStorage>(
    State(state): State<Arc<AppState<S, B>>>,
    viewer: Viewer,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ConsoleError> {
    viewer.check_csrf(&form.csrf)?;
    state.storage.end_session(viewer.session.token_sha256).await?;
    let mut response = Redirect::to("/console/login").into_response();
    response.headers_mut().append(SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0));
    Ok(response)
}
