//! Webhook payload and headers templates: JSON with `{{variable}}` (dotted paths into the
//! variables, `{{resource.defaultDatasetId}}`) replaced by the variable's JSON, and, with
//! `shouldInterpolateStrings`, replaced inside JSON strings by its text.

use serde_json::Value;

/// The platform's default payload template.
pub(crate) const DEFAULT_PAYLOAD: &str = r#"{
    "userId": {{userId}},
    "createdAt": {{createdAt}},
    "eventType": {{eventType}},
    "eventData": {{eventData}},
    "resource": {{resource}}
}"#;

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateError(pub(crate) String);

fn lookup<'a>(vars: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(vars, |v, key| v.get(key))
}

/// Renders `template` with `vars` and parses the result, which must be JSON. A variable
/// that is not there is `null` (outside strings) or empty (inside them).
pub(crate) fn render(template: &str, vars: &Value, interpolate_strings: bool) -> Result<Value, TemplateError> {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    let mut in_string = false;
    while !rest.is_empty() {
        if rest.starts_with("{{")
            && (!in_string || interpolate_strings)
            && let Some(end) = rest[2..].find("}}")
        {
            let name = rest[2..2 + end].trim();
            let value = lookup(vars, name);
            if in_string {
                let text = match value {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                };
                // Escaped as the inside of a JSON string.
                let quoted = Value::String(text).to_string();
                out.push_str(&quoted[1..quoted.len() - 1]);
            } else {
                out.push_str(&value.cloned().unwrap_or(Value::Null).to_string());
            }
            rest = &rest[2 + end + 2..];
            continue;
        }
        let mut chars = rest.chars();
        let c = chars.next().unwrap_or_default();
        out.push(c);
        rest = chars.as_str();
        if in_string && c == '\\' {
            // The escaped character is copied as it is and does not end the string.
            if let Some(n) = rest.chars().next() {
                out.push(n);
                rest = &rest[n.len_utf8()..];
            }
        } else if c == '"' {
            in_string = !in_string;
        }
    }
    serde_json::from_str(&out)
        .map_err(|e| TemplateError(format!("the rendered template is not valid JSON ({e}): {out}")))
}

/// Sample variables, to check a template when a webhook is created.
pub(crate) fn sample_vars() -> Value {
    serde_json::json!({
        "userId": "u", "createdAt": "2026-01-01T00:00:00.000Z", "eventType": "TEST",
        "eventData": {"actorId": "a"}, "resource": {"id": "r"},
        "globals": {"dateISO": "2026-01-01T00:00:00.000Z", "dateUnix": 0},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Value {
        json!({"userId": "u1", "eventType": "ACTOR.RUN.SUCCEEDED", "resource": {"id": "r1", "n": 3, "q": "a\"b"}})
    }

    #[test]
    fn variables_are_replaced_by_their_json() {
        let got = render(DEFAULT_PAYLOAD, &vars(), false).unwrap();
        assert_eq!(got["resource"]["id"], "r1");
        assert_eq!(got["eventData"], Value::Null, "a missing variable is null");
        let got = render(r#"{"id": {{resource.id}}, "n": {{ resource.n }}, "x": [{{nope.deeper}}]}"#, &vars(), false);
        assert_eq!(got.unwrap(), json!({"id": "r1", "n": 3, "x": [null]}));
    }

    #[test]
    fn strings_are_interpolated_only_when_asked() {
        let t = r#"{"text": "run {{resource.id}} has {{resource.n}}: {{resource.q}} \"{{x}}\"", "braces": "{{"}"#;
        let got = render(t, &vars(), true).unwrap();
        assert_eq!(got["text"], "run r1 has 3: a\"b \"\"");
        let got = render(t, &vars(), false).unwrap();
        assert_eq!(got["text"], "run {{resource.id}} has {{resource.n}}: {{resource.q}} \"{{x}}\"");
    }

    #[test]
    fn what_is_not_json_is_an_error() {
        assert!(render("{{resource}", &vars(), false).is_err());
        assert!(render(r#"{"a": {{resource}}"#, &vars(), false).is_err());
        assert!(render("", &vars(), false).is_err());
        assert!(render("{\"a\": \"\u{e9}{{userId}}\"}", &vars(), true).is_ok(), "multi-byte text is copied whole");
    }
}
