//! Every naming decision in one place: the rename tables and the case conversions.

/// Component schemas whose Rust name differs from the schema name (names the crate's
/// public API promised).
pub(crate) const RENAMES: &[(&str, &str)] = &[
    ("Version", "ActorVersion"),
    ("StoreListActor", "StoreActor"),
    ("UserPublicInfo", "PublicUser"),
    ("UserPrivateInfo", "PrivateUser"),
    // Not an envelope despite its name: the body itself.
    ("BrowserInfoResponse", "BrowserInfo"),
];

/// Inline schemas, by JSON pointer below `#/components/schemas/`, whose default name
/// (`{Parent}{Field}`, `…Item` for array items, `…Value` for map values) reads badly, or
/// that are unions only named inline.
pub(crate) const INLINE_NAMES: &[(&str, &str)] = &[
    // `anyOf [SourceCodeFile, SourceCodeFolder]`: one entry of a version's source tree.
    ("VersionSourceFiles/items", "SourceCodeEntry"),
    ("WebhookDispatch/properties/calls/items", "WebhookDispatchCall"),
    ("PayPerEventActorPricingInfo/allOf/1/properties/pricingPerEvent", "PricingPerEvent"),
    ("ActorStats/properties/publicActorRunStats30Days", "PublicActorRunStats"),
];

/// Schemas modeled by hand in `core/src/models`, as (schema, Rust type).
pub(crate) const EXTERNAL: &[(&str, &str)] = &[("GeneralAccess", "GeneralAccess")];

/// Schemas never generated but walked through: they map to generic hand-written types
/// (`ListPage<T>`, `ItemList<T>`) or are response envelopes (`{"data": …}`, detected by
/// shape, see `model::is_envelope`).
pub(crate) fn is_list_or_pagination(schema: &str) -> bool {
    schema.starts_with("ListOf") || schema == "PaginationResponse"
}

/// Component schemas generated although no success response refers to them: ad-hoc
/// webhooks, sent (Base64 JSON) with run and build starts.
pub(crate) const EXTRA_ROOTS: &[&str] = &["WebhookRepresentation"];

/// Paths of the storage operations: their models are hand-written.
pub(crate) const STORAGE_PATHS: &[&str] =
    &["/datasets", "/key-value-stores", "/request-queues", "/dataset", "/key-value-store", "/request-queue"];

/// The Rust name of a component schema.
pub(crate) fn type_name(schema: &str) -> String {
    RENAMES.iter().find(|(s, _)| *s == schema).map_or_else(|| schema.to_owned(), |(_, r)| (*r).to_owned())
}

/// Splits an identifier into words: at separators, lower-to-upper and digit-to-upper
/// changes, and before the last capital of an acronym (`isPPEPlatform` → is, PPE, Platform).
fn words(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if c.is_ascii_uppercase() && !current.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            if prev.is_ascii_lowercase() || prev.is_ascii_digit() || (prev.is_ascii_uppercase() && next_lower) {
                words.push(std::mem::take(&mut current));
            }
        }
        current.push(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// `PascalCase` (`TIMED-OUT` → `TimedOut`, `ACTOR.RUN.SUCCEEDED` → `ActorRunSucceeded`).
pub(crate) fn pascal(s: &str) -> String {
    let mut out: String = words(s)
        .iter()
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars.next().map(|f| f.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn", "else", "enum",
    "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match", "mod", "move",
    "mut", "override", "priv", "pub", "ref", "return", "static", "struct", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// A `snake_case` field name, keywords escaped (`type` → `r#type`).
pub(crate) fn field(wire: &str) -> String {
    let mut out = words(wire).iter().map(|w| w.to_ascii_lowercase()).collect::<Vec<_>>().join("_");
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    if matches!(out.as_str(), "self" | "super" | "crate") {
        out.push('_');
    } else if KEYWORDS.contains(&out.as_str()) {
        out.insert_str(0, "r#");
    }
    out
}

/// The field name as serde sees it (without `r#`).
pub(crate) fn unraw(rust: &str) -> &str {
    rust.strip_prefix("r#").unwrap_or(rust)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        assert_eq!(field("isPPEPlatformUsagePaidByUser"), "is_ppe_platform_usage_paid_by_user");
        assert_eq!(field("ACTOR_COMPUTE_UNITS"), "actor_compute_units");
        assert_eq!(field("TIMED-OUT"), "timed_out");
        assert_eq!(field("totalUsers7Days"), "total_users7_days");
        assert_eq!(field("s3StorageBytes"), "s3_storage_bytes");
        assert_eq!(field("type"), "r#type");
        assert_eq!(pascal("TIMED-OUT"), "TimedOut");
        assert_eq!(pascal("ACTOR.RUN.SUCCEEDED"), "ActorRunSucceeded");
        assert_eq!(pascal("PAY_PER_EVENT"), "PayPerEvent");
        assert_eq!(pascal("storageIds"), "StorageIds");
    }
}
