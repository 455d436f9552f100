//! The enrolment link a console shows as a QR code and a handheld scans: the server's address,
//! the one-time code and the tenant root key, so nothing is typed by hand. The link carries no
//! trust of its own: the device still checks the server's certificate against the root key, and
//! a forged link that names another key only enrols the device with that other tenant.

use serde::{Deserialize, Serialize};

/// The prefix that marks a scanned text as a OneVisit enrolment link.
pub const PREFIX: &str = "ONEVISIT-ENROL:";
/// Longest link accepted (a QR code at level M holds about 2,300 bytes).
const MAX_LINK_BYTES: usize = 2048;

/// What a handheld needs to enrol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentLink {
    /// The sync server's address (`https://…`; plain `http://` only on loopback).
    pub server: String,
    /// The one-time enrolment code.
    pub code: String,
    /// The tenant root public key (64 hex characters).
    pub root: String,
}

/// Why a scanned text is not an enrolment link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a OneVisit enrolment link at all (another QR code).
    #[error("这不是 OneVisit 设备登记二维码")]
    NotALink,
    /// The link is malformed.
    #[error("设备登记二维码内容有误：{0}")]
    Malformed(&'static str),
}

impl EnrolmentLink {
    /// The text the QR code holds.
    pub fn to_text(&self) -> String {
        // Three plain strings always serialise.
        format!("{PREFIX}{}", serde_json::to_string(self).unwrap_or_default())
    }

    /// Parses and checks a scanned text.
    pub fn parse(text: &str) -> Result<EnrolmentLink, LinkError> {
        let body = text.trim().strip_prefix(PREFIX).ok_or(LinkError::NotALink)?;
        if body.len() > MAX_LINK_BYTES {
            return Err(LinkError::Malformed("过长"));
        }
        let link: EnrolmentLink = serde_json::from_str(body).map_err(|_| LinkError::Malformed("不是登记信息"))?;
        let secure = link.server.starts_with("https://");
        let loopback =
            ["http://127.0.0.1", "http://localhost", "http://[::1]"].iter().any(|p| link.server.starts_with(p));
        if !(secure || loopback) || link.server.chars().any(char::is_whitespace) {
            return Err(LinkError::Malformed("服务器地址须为 https"));
        }
        if link.code.is_empty() || link.code.len() > 64 || !link.code.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(LinkError::Malformed("登记码格式不对"));
        }
        if link.root.len() != 64 || !link.root.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(LinkError::Malformed("根公钥须为 64 位十六进制"));
        }
        Ok(link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> EnrolmentLink {
        EnrolmentLink {
            server: "https://sync.pinghu.gov.cn".into(),
            code: "7K3Q9M2XABCD".into(),
            root: "ab".repeat(32),
        }
    }

    #[test]
    fn a_link_survives_its_qr_code() {
        let text = link().to_text();
        let png = crate::qr::png(&text).unwrap();
        let image = image::load_from_memory(&png).unwrap().to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(image);
        let grids = prepared.detect_grids();
        let (_, scanned) = grids[0].decode().unwrap();
        assert_eq!(EnrolmentLink::parse(&scanned).unwrap(), link());
    }

    #[test]
    fn other_texts_and_doctored_links_are_refused() {
        assert_eq!(EnrolmentLink::parse("330482-20261128-7K3Q9M2X"), Err(LinkError::NotALink));
        let doctored = |f: &dyn Fn(&mut EnrolmentLink)| {
            let mut l = link();
            f(&mut l);
            EnrolmentLink::parse(&l.to_text())
        };
        assert!(doctored(&|l| l.server = "http://sync.pinghu.gov.cn".into()).is_err(), "plain http elsewhere");
        assert!(doctored(&|l| l.server = "http://127.0.0.1:8080".into()).is_ok(), "loopback for development");
        assert!(doctored(&|l| l.code = "7K3Q 9M2X".into()).is_err());
        assert!(doctored(&|l| l.root = "zz".repeat(32)).is_err());
        assert!(
            EnrolmentLink::parse(&format!(
                "{PREFIX}{{\"server\":\"https://a\",\"code\":\"A\",\"root\":\"{}\",\"x\":1}}",
                "ab".repeat(32)
            ))
            .is_err(),
            "unknown field"
        );
        assert!(EnrolmentLink::parse(&format!("{PREFIX}{}", "x".repeat(5000))).is_err());
    }
}
