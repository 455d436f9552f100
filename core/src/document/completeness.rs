//! When a document counts as signed: two officers of every acting department, each named on the
//! document (处罚法 42, 办法 23, 规定 14), and the party's signature or a refusal before a witness.
//! Devices, the server and the offline bundle verifier all decide it here, from the document's
//! own bytes and the statements that verified.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{DocumentContent, DocumentKind};

/// How many officers of an acting department must sign.
pub const OFFICERS_PER_DEPARTMENT: usize = 2;

/// A signature a document still needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MissingSignature {
    /// Fewer than two valid inspector signatures (a document rendered before officers were named
    /// by id: any two of the task's inspectors count).
    Inspectors {
        /// Valid inspector signatures so far.
        have: usize,
    },
    /// Fewer than two officers of an acting department, named on the document, have signed.
    DepartmentOfficers {
        /// The department (short name).
        department: String,
        /// Its named officers who signed validly so far.
        have: usize,
        /// How many of its officers the document names (fewer than two: it can never be signed).
        named: usize,
    },
    /// Neither the party's signature nor a witnessed refusal.
    Party,
}

impl MissingSignature {
    /// The zh-CN description shown to inspectors.
    pub fn label_zh(&self) -> String {
        match self {
            MissingSignature::Inspectors { have } => format!("执法人员签名（已有 {have} 人，至少需 2 人）"),
            MissingSignature::DepartmentOfficers { department, have, named } if *named < OFFICERS_PER_DEPARTMENT => {
                format!(
                    "{department}执法人员签名（已有 {have} 人，至少需 2 人；本文书只列明该部门 {named} 名执法人员，须重新指派后另行制作）"
                )
            }
            MissingSignature::DepartmentOfficers { department, have, .. } => {
                format!("{department}执法人员签名（已有 {have} 人，至少需 2 人）")
            }
            MissingSignature::Party => "当事人签名或见证人在场的拒签记录".into(),
        }
    }
}

/// Whether a valid party act in `role` counts as the party's part of a `kind` document: a
/// signature always; a refusal before a witness where the kind takes one (not on the address
/// confirmation, the party's own statement).
pub fn party_act_counts(kind: DocumentKind, role: &super::SignatureRole) -> bool {
    match role {
        super::SignatureRole::Inspector { .. } => false,
        super::SignatureRole::Party { .. } => true,
        super::SignatureRole::PartyRefused { .. } => kind.takes_refusal(),
    }
}

/// Whether the document names its officers by id (documents rendered before did not).
pub fn names_officers(content: &DocumentContent) -> bool {
    !content.inspectors.is_empty() && content.inspectors.iter().all(|p| !p.inspector.is_empty())
}

/// Whether `inspector`'s signature counts on this document: they are one of the officers it
/// names (on an older document, any task inspector).
pub fn is_named(content: &DocumentContent, inspector: &str) -> bool {
    !names_officers(content) || content.inspectors.iter().any(|p| p.inspector == inspector)
}

/// The departments that act through the document, with their short names: the issuer of an
/// order; for an on-site record, every department whose officers it names, and the issuer.
pub fn acting_departments(content: &DocumentContent) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let issuer_name = content
        .inspectors
        .iter()
        .find(|p| p.department_id == content.issuer_id)
        .map(|p| p.department.clone())
        .unwrap_or_else(|| content.issuer.clone());
    out.push((content.issuer_id.clone(), issuer_name));
    if content.kind == DocumentKind::OnSiteRecord {
        for p in &content.inspectors {
            if !out.iter().any(|(id, _)| id == &p.department_id) {
                out.push((p.department_id.clone(), p.department.clone()));
            }
        }
    }
    out
}

/// What the document still needs, given the inspectors whose signatures verified (and are
/// certified, where that is checked) and whether the party signed or refused before a witness.
pub fn missing(content: &DocumentContent, signed: &BTreeSet<String>, party: bool) -> Vec<MissingSignature> {
    let mut out = Vec::new();
    if names_officers(content) {
        for (department, name) in acting_departments(content) {
            let officers: Vec<&str> = content
                .inspectors
                .iter()
                .filter(|p| p.department_id == department)
                .map(|p| p.inspector.as_str())
                .collect();
            let have = officers.iter().filter(|i| signed.contains(**i)).count();
            if have < OFFICERS_PER_DEPARTMENT {
                out.push(MissingSignature::DepartmentOfficers { department: name, have, named: officers.len() });
            }
        }
    } else if signed.len() < OFFICERS_PER_DEPARTMENT {
        out.push(MissingSignature::Inspectors { have: signed.len() });
    }
    if !party {
        out.push(MissingSignature::Party);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::render::{PartyBlock, PersonBlock, PlaceBlock};

    fn officer(id: &str, department: &str) -> PersonBlock {
        PersonBlock {
            inspector: id.into(),
            department_id: department.into(),
            name: id.into(),
            certificate_number: String::new(),
            department: format!("{department}局"),
        }
    }

    fn content(kind: DocumentKind, issuer: &str, inspectors: Vec<PersonBlock>) -> DocumentContent {
        DocumentContent {
            schema: DocumentContent::schema(),
            kind,
            title: String::new(),
            number: String::new(),
            version: 1,
            task: String::new(),
            record_heads: Vec::new(),
            issuer: format!("{issuer}全称"),
            issuer_id: issuer.into(),
            party: PartyBlock::default(),
            place: PlaceBlock { address: String::new(), latitude_e7: None, longitude_e7: None, datum: String::new() },
            start_ms: None,
            end_ms: None,
            inspectors,
            recorder: PersonBlock::default(),
            notice: String::new(),
            identity_shown: Vec::new(),
            recusal: String::new(),
            party_statement: None,
            checks: Vec::new(),
            findings: Vec::new(),
            order: None,
            service: None,
            rendered_at_ms: 0,
        }
    }

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_on_site_record_needs_two_officers_of_every_department_it_names() {
        let doc = content(
            DocumentKind::OnSiteRecord,
            "scjg",
            vec![
                officer("scjg-01", "scjg"),
                officer("scjg-02", "scjg"),
                officer("xfjy-01", "xfjy"),
                officer("xfjy-02", "xfjy"),
            ],
        );
        assert!(missing(&doc, &set(&["scjg-01", "scjg-02", "xfjy-01", "xfjy-02"]), true).is_empty());
        // Three officers signed, but only one of the fire brigade: not signed.
        let short = missing(&doc, &set(&["scjg-01", "scjg-02", "xfjy-01"]), true);
        assert_eq!(
            short,
            vec![MissingSignature::DepartmentOfficers { department: "xfjy局".into(), have: 1, named: 2 }]
        );
        assert_eq!(
            missing(&doc, &set(&["scjg-01", "scjg-02", "xfjy-01", "xfjy-02"]), false),
            vec![MissingSignature::Party]
        );
    }

    #[test]
    fn an_order_counts_only_its_own_departments_named_officers() {
        let doc = content(DocumentKind::RectificationOrder, "xfjy", vec![officer("xfjy-01", "xfjy")]);
        // A market-supervision officer's signature does not make up the fire brigade's second.
        let gaps = missing(&doc, &set(&["xfjy-01", "scjg-01"]), true);
        assert_eq!(gaps, vec![MissingSignature::DepartmentOfficers { department: "xfjy局".into(), have: 1, named: 1 }]);
        assert!(gaps[0].label_zh().contains("须重新指派"), "{}", gaps[0].label_zh());
        assert!(!is_named(&doc, "scjg-01") && is_named(&doc, "xfjy-01"));
    }

    #[test]
    fn an_older_document_without_officer_ids_keeps_the_two_signature_rule() {
        let mut old = officer("", "");
        old.inspector.clear();
        let doc = content(DocumentKind::OnSiteRecord, "", vec![old.clone(), old]);
        assert!(is_named(&doc, "anyone"));
        assert_eq!(missing(&doc, &set(&["a"]), true), vec![MissingSignature::Inspectors { have: 1 }]);
        assert!(missing(&doc, &set(&["a", "b"]), true).is_empty());
    }
}
