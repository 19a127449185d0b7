//! From the OpenAPI document to a list of items: structs, open enums and type aliases.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::{docs, names};

const SCHEMAS: &str = "/components/schemas/";
const METHODS: [&str; 7] = ["get", "post", "put", "delete", "head", "patch", "options"];

/// A Rust type of a field or alias.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ty {
    String,
    U64,
    I64,
    F64,
    Bool,
    Timestamp,
    Value,
    /// `serde_json::Map<String, Value>`.
    Map,
    Vec(Box<Self>),
    /// `BTreeMap<String, T>`.
    BTree(Box<Self>),
    Option(Box<Self>),
    /// A generated or hand-written model.
    Named(String),
}

impl Ty {
    pub(crate) fn rust(&self) -> String {
        match self {
            Self::String => "String".into(),
            Self::U64 => "u64".into(),
            Self::I64 => "i64".into(),
            Self::F64 => "f64".into(),
            Self::Bool => "bool".into(),
            Self::Timestamp => "Timestamp".into(),
            Self::Value => "Value".into(),
            Self::Map => "Map<String, Value>".into(),
            Self::Vec(t) => format!("Vec<{}>", t.rust()),
            Self::BTree(t) => format!("BTreeMap<String, {}>", t.rust()),
            Self::Option(t) => format!("Option<{}>", t.rust()),
            Self::Named(n) => n.clone(),
        }
    }

    /// Calls `f` on this type and every type inside it.
    pub(crate) fn visit(&self, f: &mut impl FnMut(&Self)) {
        f(self);
        if let Self::Vec(t) | Self::BTree(t) | Self::Option(t) = self {
            t.visit(f);
        }
    }
}

/// A struct field.
pub(crate) struct Field {
    pub(crate) wire: String,
    pub(crate) rust: String,
    pub(crate) ty: Ty,
    /// Not required, or nullable: `Option<ty>`.
    pub(crate) optional: bool,
    pub(crate) doc: Vec<String>,
}

pub(crate) enum Kind {
    /// `open`: the schema allows further keys (`additionalProperties`); they land in `extra`.
    Struct {
        fields: Vec<Field>,
        open: bool,
    },
    /// An open enum of these wire values.
    Enum(Vec<String>),
    Alias(Ty),
}

/// One generated type.
pub(crate) struct Item {
    pub(crate) name: String,
    /// Where its schema is: a JSON pointer into the document.
    pub(crate) pointer: String,
    /// Paragraphs, sanitised for rustdoc.
    pub(crate) doc: Vec<String>,
    pub(crate) kind: Kind,
}

/// Every type to generate, parents before their inline children, ordered by name.
pub(crate) fn build(doc: &Value) -> Result<Vec<Item>, String> {
    let mut b = Builder {
        doc,
        items: BTreeMap::new(),
        queue: Vec::new(),
        walked: BTreeSet::new(),
        inline_used: BTreeSet::new(),
    };
    b.roots()?;
    for name in names::EXTRA_ROOTS {
        b.component(name);
    }
    while let Some(ptr) = b.queue.pop() {
        if b.items.contains_key(&ptr) {
            continue;
        }
        b.items.insert(ptr.clone(), None);
        let schema = b.at(&ptr)?;
        let item = b.item(&ptr, &names::type_name(&ptr[SCHEMAS.len()..]), schema)?;
        b.items.insert(ptr, Some(item));
    }
    b.finish()
}

struct Builder<'a> {
    doc: &'a Value,
    /// By pointer; `None` while being built.
    items: BTreeMap<String, Option<Item>>,
    /// Component pointers still to build.
    queue: Vec<String>,
    /// Envelopes and lists already walked through.
    walked: BTreeSet<String>,
    inline_used: BTreeSet<&'static str>,
}

enum Role {
    Generate,
    External(&'static str),
    /// An envelope or list: not generated, its references are.
    Skip,
}

/// A property of an object schema, after `$ref`s and `allOf`s.
struct Prop<'a> {
    wire: String,
    schema: &'a Value,
    pointer: String,
}

#[derive(Default)]
struct Parts<'a> {
    props: Vec<Prop<'a>>,
    required: BTreeSet<String>,
    open: bool,
}

fn types(schema: &Value) -> Vec<&str> {
    match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn is_null_schema(schema: &Value) -> bool {
    types(schema) == ["null"]
}

fn has_properties(schema: &Value) -> bool {
    schema.get("properties").and_then(Value::as_object).is_some_and(|p| !p.is_empty())
}

fn is_struct(schema: &Value) -> bool {
    has_properties(schema) || schema.get("allOf").is_some()
}

/// `{"data": …}` and nothing else.
fn is_envelope(schema: &Value) -> bool {
    schema.get("properties").and_then(Value::as_object).is_some_and(|p| p.len() == 1 && p.contains_key("data"))
}

fn description(schema: &Value) -> Option<&str> {
    schema.get("description").and_then(Value::as_str)
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn unescape_pointer(seg: &str) -> String {
    seg.replace("~1", "/").replace("~0", "~")
}

/// `Run.storageIds.datasets`, `WebhookDispatch.calls[]` for a pointer (for fallback docs).
fn label(pointer: &str) -> String {
    let rel = pointer.strip_prefix(SCHEMAS).unwrap_or(pointer);
    let mut segs = rel.split('/');
    let mut out = segs.next().unwrap_or_default().to_owned();
    while let Some(seg) = segs.next() {
        match seg {
            "properties" => out = format!("{out}.{}", unescape_pointer(segs.next().unwrap_or_default())),
            "items" => out.push_str("[]"),
            "additionalProperties" => out.push_str(".*"),
            _ => {
                segs.next();
            }
        }
    }
    out
}

fn members<'v>(schema: &'v Value, pointer: &str) -> Option<(Vec<(&'v Value, String)>, bool)> {
    let (key, list) =
        ["oneOf", "anyOf"].into_iter().find_map(|k| schema.get(k).and_then(Value::as_array).map(|l| (k, l)))?;
    let nulls = list.iter().any(is_null_schema);
    let others = list
        .iter()
        .enumerate()
        .filter(|(_, m)| !is_null_schema(m))
        .map(|(i, m)| (m, format!("{pointer}/{key}/{i}")))
        .collect();
    Some((others, nulls))
}

impl<'a> Builder<'a> {
    fn at(&self, pointer: &str) -> Result<&'a Value, String> {
        self.doc.pointer(pointer).ok_or_else(|| format!("dangling pointer {pointer}"))
    }

    /// The schema a `$ref` points to, with its pointer.
    fn target(&self, reference: &str) -> Result<(&'a Value, String), String> {
        let pointer = reference.strip_prefix('#').ok_or_else(|| format!("external $ref {reference}"))?;
        Ok((self.at(pointer)?, pointer.to_owned()))
    }

    fn resolve(&self, mut schema: &'a Value) -> Result<&'a Value, String> {
        while let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            schema = self.target(r)?.0;
        }
        Ok(schema)
    }

    fn role(&self, name: &str) -> Result<Role, String> {
        if let Some((_, rust)) = names::EXTERNAL.iter().find(|(s, _)| *s == name) {
            return Ok(Role::External(rust));
        }
        let schema = self.at(&format!("{SCHEMAS}{name}"))?;
        if names::is_list_or_pagination(name) || (name.ends_with("Response") && is_envelope(schema)) {
            Ok(Role::Skip)
        } else {
            Ok(Role::Generate)
        }
    }

    fn component(&mut self, name: &str) {
        let pointer = format!("{SCHEMAS}{name}");
        if !self.items.contains_key(&pointer) && !self.queue.contains(&pointer) {
            self.queue.push(pointer);
        }
    }

    /// Queues the schemas the JSON success responses of non-storage operations refer to.
    fn roots(&mut self) -> Result<(), String> {
        let paths = self.doc["paths"].as_object().ok_or("the document has no paths")?;
        for (path, item) in paths {
            if names::STORAGE_PATHS.iter().any(|s| path.contains(s)) {
                continue;
            }
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let responses = op["responses"].as_object().ok_or_else(|| format!("{method} {path}: no responses"))?;
                for (code, response) in responses {
                    if !code.starts_with('2') {
                        continue;
                    }
                    let response = self.resolve(response)?;
                    for (media, content) in response.get("content").and_then(Value::as_object).into_iter().flatten() {
                        if media == "application/json"
                            && let Some(schema) = content.get("schema")
                        {
                            self.reach(schema)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Queues the generated schemas `schema` refers to, walking through envelopes and lists.
    fn reach(&mut self, schema: &'a Value) -> Result<(), String> {
        match schema {
            Value::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                    let name =
                        r.strip_prefix("#/components/schemas/").ok_or_else(|| format!("$ref {r} is no schema"))?;
                    match self.role(name)? {
                        Role::Generate => self.component(name),
                        Role::External(_) => {}
                        Role::Skip => {
                            if self.walked.insert(name.to_owned()) {
                                let target = self.target(r)?.0;
                                self.reach(target)?;
                            }
                        }
                    }
                }
                for (key, value) in map {
                    if !matches!(key.as_str(), "example" | "examples" | "$ref") {
                        self.reach(value)?;
                    }
                }
            }
            Value::Array(list) => {
                for value in list {
                    self.reach(value)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The members of a union of two or more object schemas (nulls aside).
    fn object_union(&self, schema: &'a Value, pointer: &str) -> Result<Option<Vec<(&'a Value, String)>>, String> {
        let Some((members, _)) = members(schema, pointer) else { return Ok(None) };
        if members.len() < 2 {
            return Ok(None);
        }
        for (member, _) in &members {
            let m = self.resolve(member)?;
            if !(is_struct(m) || types(m).contains(&"object")) {
                return Ok(None);
            }
        }
        Ok(Some(members))
    }

    fn item(&mut self, pointer: &str, name: &str, schema: &'a Value) -> Result<Item, String> {
        let label = label(pointer);
        let mut notes = Vec::new();
        if let Some(schema_name) = pointer.strip_prefix(SCHEMAS).filter(|n| !n.contains('/'))
            && schema_name != name
        {
            notes.push(format!("Schema `{schema_name}` of the OpenAPI document."));
        }
        let (kind, fallback) = if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            let values = values
                .iter()
                .filter(|v| !v.is_null())
                .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| format!("{pointer}: enum value {v} is no string")))
                .collect::<Result<_, _>>()?;
            (Kind::Enum(values), format!("Values of `{label}`."))
        } else if let Some(members) = self.object_union(schema, pointer)? {
            let mut variants = Vec::new();
            for (member, _) in &members {
                variants.push(match member.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()) {
                    Some(n) => format!("`{}`", names::type_name(n)),
                    None => "an inline object".to_owned(),
                });
            }
            let by = schema
                .pointer("/discriminator/propertyName")
                .and_then(Value::as_str)
                .map(|p| format!(", told apart by `{p}`"))
                .unwrap_or_default();
            notes.push(format!(
                "One of {}{by}. This struct holds the fields of every variant; those every variant requires are \
                 required.",
                variants.join(", ")
            ));
            let (fields, open) = self.union_fields(pointer, &members)?;
            (Kind::Struct { fields, open }, format!("The `{label}` object."))
        } else if is_struct(schema) {
            let (fields, open) = self.fields(schema, pointer)?;
            (Kind::Struct { fields, open }, format!("The `{label}` object."))
        } else {
            let (ty, _) = self.ty_of(schema, pointer)?;
            (Kind::Alias(ty), format!("The `{label}` schema."))
        };
        if let Kind::Struct { fields, open: true } = &kind
            && !fields.is_empty()
        {
            notes.push("The schema allows keys besides these fields: they are kept in `extra`.".to_owned());
        }
        let mut doc = vec![docs::summary(description(schema)).unwrap_or(fallback)];
        doc.extend(notes);
        Ok(Item { name: name.to_owned(), pointer: pointer.to_owned(), doc, kind })
    }

    /// Properties and required names after `$ref`s and `allOf`s; the schemas referred to
    /// (bases, union variants) are generated too.
    fn parts(&mut self, schema: &'a Value, pointer: &str, out: &mut Parts<'a>) -> Result<(), String> {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let (target, target_pointer) = self.target(r)?;
            if let Some(name) = r.strip_prefix("#/components/schemas/")
                && matches!(self.role(name)?, Role::Generate)
            {
                self.component(name);
            }
            self.parts(target, &target_pointer, out)?;
        }
        for (i, part) in schema.get("allOf").and_then(Value::as_array).into_iter().flatten().enumerate() {
            self.parts(part, &format!("{pointer}/allOf/{i}"), out)?;
        }
        for (wire, prop) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
            let p = Prop {
                wire: wire.clone(),
                schema: prop,
                pointer: format!("{pointer}/properties/{}", escape_pointer(wire)),
            };
            match out.props.iter_mut().find(|x| x.wire == *wire) {
                Some(slot) => *slot = p,
                None => out.props.push(p),
            }
        }
        for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            out.required.insert(name.as_str().ok_or_else(|| format!("{pointer}: odd `required`"))?.to_owned());
        }
        if matches!(schema.get("additionalProperties"), Some(Value::Bool(true) | Value::Object(_))) {
            out.open = true;
        }
        Ok(())
    }

    fn fields(&mut self, schema: &'a Value, pointer: &str) -> Result<(Vec<Field>, bool), String> {
        let mut parts = Parts::default();
        self.parts(schema, pointer, &mut parts)?;
        let mut fields = Vec::new();
        for prop in &parts.props {
            let (ty, nullable) = self.ty_of(prop.schema, &prop.pointer)?;
            fields.push(Field {
                wire: prop.wire.clone(),
                rust: names::field(&prop.wire),
                ty,
                optional: !parts.required.contains(&prop.wire) || nullable,
                doc: self.field_doc(prop.schema, &prop.wire)?,
            });
        }
        check_fields(pointer, &fields)?;
        Ok((fields, parts.open))
    }

    /// One struct for a union: every variant's properties, required where all require them.
    fn union_fields(&mut self, pointer: &str, members: &[(&'a Value, String)]) -> Result<(Vec<Field>, bool), String> {
        let mut all = Vec::new();
        for (member, member_pointer) in members {
            let mut parts = Parts::default();
            self.parts(member, member_pointer, &mut parts)?;
            all.push(parts);
        }
        let mut order: Vec<String> = Vec::new();
        for prop in all.iter().flat_map(|p| &p.props) {
            if !order.contains(&prop.wire) {
                order.push(prop.wire.clone());
            }
        }
        let mut fields = Vec::new();
        for wire in order {
            let (mut ty, mut nullable, mut required, mut doc) = (None::<Ty>, false, true, None);
            for parts in &all {
                let Some(prop) = parts.props.iter().find(|p| p.wire == wire) else {
                    required = false;
                    continue;
                };
                required &= parts.required.contains(&wire);
                let (t, n) = self.ty_of(prop.schema, &prop.pointer)?;
                nullable |= n;
                match &ty {
                    None => ty = Some(t),
                    Some(prev) if *prev != t => {
                        return Err(format!("union {pointer}: `{wire}` is {prev:?} in one variant, {t:?} in another"));
                    }
                    Some(_) => {}
                }
                if doc.is_none() && description(prop.schema).is_some() {
                    doc = Some(self.field_doc(prop.schema, &wire)?);
                }
            }
            let doc = match doc {
                Some(d) => d,
                None => {
                    let first = all.iter().flat_map(|p| &p.props).find(|p| p.wire == wire).map(|p| p.schema);
                    self.field_doc(first.unwrap_or(&Value::Null), &wire)?
                }
            };
            let ty = ty.ok_or_else(|| format!("union {pointer}: no type for `{wire}`"))?;
            fields.push(Field { rust: names::field(&wire), wire, ty, optional: !required || nullable, doc });
        }
        check_fields(pointer, &fields)?;
        Ok((fields, all.iter().any(|p| p.open)))
    }

    /// The schema a property refers to: its `$ref`, or the one non-null member of a union.
    fn referenced(&self, schema: &'a Value) -> Result<Option<&'a Value>, String> {
        if schema.get("$ref").is_some() {
            return self.resolve(schema).map(Some);
        }
        match members(schema, "").map(|(m, _)| m).as_deref() {
            Some([(only, _)]) if only.get("$ref").is_some() => self.resolve(only).map(Some),
            _ => Ok(None),
        }
    }

    fn field_doc(&self, schema: &'a Value, wire: &str) -> Result<Vec<String>, String> {
        let summary = match docs::summary(description(schema)) {
            Some(s) => s,
            None => self
                .referenced(schema)?
                .and_then(|target| docs::summary(description(target)))
                .unwrap_or_else(|| format!("The `{wire}` field.")),
        };
        let mut doc = vec![summary];
        if schema.get("deprecated") == Some(&Value::Bool(true)) {
            doc.push("Deprecated by the API.".to_owned());
        }
        Ok(doc)
    }

    /// The Rust type of a schema, and whether it is nullable.
    fn ty_of(&mut self, schema: &'a Value, pointer: &str) -> Result<(Ty, bool), String> {
        let own = types(schema);
        let own_null = own.contains(&"null");
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let name = r.strip_prefix("#/components/schemas/").ok_or_else(|| format!("{pointer}: $ref {r}"))?;
            let nullable = own_null || types(self.target(r)?.0).contains(&"null");
            let ty = match self.role(name)? {
                Role::External(rust) => Ty::Named(rust.to_owned()),
                Role::Generate => {
                    self.component(name);
                    Ty::Named(names::type_name(name))
                }
                Role::Skip => return Err(format!("{pointer} refers to {name}, which is not generated")),
            };
            return Ok((ty, nullable));
        }
        if let Some((others, nulls)) = members(schema, pointer) {
            let nullable = nulls || own_null;
            if let [(only, only_pointer)] = others.as_slice() {
                let (ty, n) = self.ty_of(only, only_pointer)?;
                return Ok((ty, n || nullable));
            }
            if self.object_union(schema, pointer)?.is_some() {
                return Ok((Ty::Named(self.inline(schema, pointer)?), nullable));
            }
            // A union of scalars or arrays (`string | integer`): kept as JSON.
            return Ok((Ty::Value, nullable));
        }
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            if let [only] = parts.as_slice()
                && !has_properties(schema)
            {
                let (ty, n) = self.ty_of(only, &format!("{pointer}/allOf/0"))?;
                return Ok((ty, n || own_null));
            }
            return Ok((Ty::Named(self.inline(schema, pointer)?), own_null));
        }
        if schema.get("enum").is_some() {
            return Ok((Ty::Named(self.inline(schema, pointer)?), own_null));
        }
        let mut base: Vec<&str> = own.into_iter().filter(|t| *t != "null").collect();
        if base.is_empty() {
            match schema.get("const") {
                Some(Value::String(_)) => base.push("string"),
                Some(Value::Bool(_)) => base.push("boolean"),
                Some(Value::Number(n)) if n.is_f64() => base.push("number"),
                Some(Value::Number(_)) => base.push("integer"),
                Some(_) => {}
                None if has_properties(schema) => base.push("object"),
                None => {}
            }
        }
        let ty = match base.as_slice() {
            ["string"] if schema.get("format").and_then(Value::as_str) == Some("date-time") => Ty::Timestamp,
            ["string"] => Ty::String,
            ["integer"] if schema.get("minimum").and_then(Value::as_f64).is_some_and(|m| m >= 0.0) => Ty::U64,
            ["integer"] => Ty::I64,
            ["number"] => Ty::F64,
            ["boolean"] => Ty::Bool,
            ["array"] => match schema.get("items") {
                Some(items) => {
                    let (t, n) = self.ty_of(items, &format!("{pointer}/items"))?;
                    Ty::Vec(Box::new(if n { Ty::Option(Box::new(t)) } else { t }))
                }
                None => Ty::Vec(Box::new(Ty::Value)),
            },
            ["object"] if has_properties(schema) => Ty::Named(self.inline(schema, pointer)?),
            ["object"] => match schema.get("additionalProperties") {
                Some(extra @ Value::Object(m)) if !m.is_empty() => {
                    let (t, n) = self.ty_of(extra, &format!("{pointer}/additionalProperties"))?;
                    Ty::BTree(Box::new(if n { Ty::Option(Box::new(t)) } else { t }))
                }
                _ => Ty::Map,
            },
            // Untyped (`{}`), or several types.
            _ => Ty::Value,
        };
        Ok((ty, own_null))
    }

    /// Generates an inline schema as its own type; returns its name.
    fn inline(&mut self, schema: &'a Value, pointer: &str) -> Result<String, String> {
        if let Some(item) = self.items.get(pointer) {
            return item.as_ref().map(|i| i.name.clone()).ok_or_else(|| format!("{pointer}: recursive inline schema"));
        }
        let name = self.inline_name(pointer)?;
        self.items.insert(pointer.to_owned(), None);
        let item = self.item(pointer, &name, schema)?;
        self.items.insert(pointer.to_owned(), Some(item));
        Ok(name)
    }

    /// `{Parent}{Field}` (`…Item` for array items, `…Value` for map values), unless
    /// `INLINE_NAMES` says otherwise.
    fn inline_name(&mut self, pointer: &str) -> Result<String, String> {
        let rel =
            pointer.strip_prefix(SCHEMAS).ok_or_else(|| format!("inline schema outside components: {pointer}"))?;
        if let Some((key, name)) = names::INLINE_NAMES.iter().find(|(k, _)| *k == rel) {
            self.inline_used.insert(key);
            return Ok((*name).to_owned());
        }
        let mut segs = rel.split('/');
        let mut name = names::type_name(segs.next().unwrap_or_default());
        while let Some(seg) = segs.next() {
            match seg {
                "properties" => {
                    let key = segs.next().ok_or_else(|| format!("{pointer}: truncated"))?;
                    name.push_str(&names::pascal(&unescape_pointer(key)));
                }
                "items" => name.push_str("Item"),
                "additionalProperties" => name.push_str("Value"),
                "allOf" | "anyOf" | "oneOf" => {
                    segs.next();
                }
                other => return Err(format!("{pointer}: cannot name an inline schema under `{other}`")),
            }
        }
        Ok(name)
    }

    fn finish(self) -> Result<Vec<Item>, String> {
        for (key, _) in names::INLINE_NAMES {
            if !self.inline_used.contains(key) {
                return Err(format!("INLINE_NAMES: `{key}` is no generated inline schema (did the document change?)"));
            }
        }
        let mut items = Vec::new();
        for (pointer, item) in self.items {
            items.push(item.ok_or_else(|| format!("{pointer} was never built"))?);
        }
        for (schema, _) in names::RENAMES {
            if !items.iter().any(|i| i.pointer == format!("{SCHEMAS}{schema}")) {
                return Err(format!("RENAMES: `{schema}` is no generated schema (did the document change?)"));
            }
        }
        let mut seen = BTreeMap::new();
        for item in &items {
            if let Some(other) = seen.insert(item.name.as_str(), item.pointer.as_str()) {
                return Err(format!("`{}` names both {other} and {}", item.name, item.pointer));
            }
        }
        let key = |i: &Item| {
            let component = i.pointer[SCHEMAS.len()..].split('/').next().unwrap_or_default();
            (names::type_name(component), i.pointer.clone())
        };
        items.sort_by_key(key);
        Ok(items)
    }
}

fn check_fields(pointer: &str, fields: &[Field]) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for f in fields {
        if names::unraw(&f.rust) == "extra" || !seen.insert(f.rust.as_str()) {
            return Err(format!("{pointer}: field name `{}` (from `{}`) is taken", f.rust, f.wire));
        }
    }
    Ok(())
}
