//! The console's pages as askama templates (HTML-escaped by default: whatever a device, a plan or
//! an account name carries is shown as text), and how a page becomes a response.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// What every page sends besides its HTML: nothing from elsewhere, no inline script, no framing.
const SECURITY_HEADERS: [(header::HeaderName, &str); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
    (header::CACHE_CONTROL, "no-store"),
];

/// Renders a page (a failure to render is a server error, shown as such).
pub(super) fn page(template: &impl Template) -> Response {
    let mut response = match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "页面生成失败").into_response()
        }
    };
    for (name, value) in SECURITY_HEADERS {
        response.headers_mut().insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The signed-in person, as the navigation bar shows them.
#[derive(Debug, Clone)]
pub(super) struct Nav {
    /// Their account name.
    pub(super) name: String,
    /// Their role (zh-CN).
    pub(super) role: String,
    /// The session's CSRF token, for the logout form.
    pub(super) csrf: String,
}

impl Nav {
    /// The bar for `viewer`.
    pub(super) fn of(viewer: &super::session::Viewer) -> Nav {
        Nav { name: viewer.user.name.clone(), role: viewer.role.label_zh(), csrf: viewer.session.csrf.clone() }
    }
}

/// The login page.
#[derive(Template)]
#[template(path = "console/login.html")]
pub(super) struct LoginPage {
    /// The value that binds the form to this browser's login cookie.
    pub(super) binding: String,
    /// Why the last attempt failed.
    pub(super) message: Option<String>,
}

/// A refusal or failure, as a page.
#[derive(Template)]
#[template(path = "console/error.html")]
pub(super) struct ErrorPage {
    /// The heading.
    pub(super) title: String,
    /// What happened and what to do.
    pub(super) message: String,
}
