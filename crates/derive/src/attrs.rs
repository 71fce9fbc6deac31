//! What the attributes of a `#[derive(Pusherable)]` struct ask for, checked as a whole.

use heck::ToSnakeCase as _;
use syn::{
    meta::ParseNestedMeta, spanned::Spanned as _, Data, DeriveInput, Fields, Ident, LitStr, Path,
    Token, Type,
};

use crate::case::RenameRule;

/// Which channel the model's objects live on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Private,
    Presence,
    Public,
}

/// How a payload field is turned into JSON.
pub(crate) enum Write {
    /// `serde::Serialize` of the field's type.
    Serialize,
    /// `#[serde(serialize_with = "path")]`, or `path::serialize` for `#[serde(with = "path")]`.
    Function(Path),
}

/// One field that goes into the payload.
pub(crate) struct Field {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
    /// The key it gets in the payload, as serde names it.
    pub(crate) name: String,
    pub(crate) write: Write,
    /// `#[serde(flatten)]`: its own fields are merged into the payload.
    pub(crate) flatten: bool,
    /// `#[serde(skip_serializing_if = "path")]`.
    pub(crate) skip_if: Option<Path>,
}

/// Everything the derive needs, after every check passed.
pub(crate) struct Model {
    /// Path of the `pusherable` crate (`#[pusherable(crate = "...")]`).
    pub(crate) krate: Path,
    pub(crate) model: String,
    pub(crate) namespace: Option<String>,
    pub(crate) kind: Kind,
    pub(crate) key: Ident,
    pub(crate) key_ty: Type,
    pub(crate) fields: Vec<Field>,
}

/// Model names that would give a channel another meaning (`private-1`, `cache-1`).
const RESERVED_MODELS: [&str; 3] = ["private", "presence", "cache"];

#[derive(Default)]
struct StructAttrs {
    krate: Option<Path>,
    model: Option<LitStr>,
    namespace: Option<LitStr>,
    kind: Option<(Kind, proc_macro2::Span)>,
    include: Option<Vec<Ident>>,
    exclude: Option<Vec<Ident>>,
    rename_all: Option<RenameRule>,
}

#[derive(Default)]
struct FieldAttrs {
    key: bool,
    secret: bool,
    skip: bool,
    serde_skip: bool,
    rename: Option<String>,
    flatten: bool,
    skip_if: Option<Path>,
    write: Option<Path>,
}

impl Model {
    pub(crate) fn from_input(input: &DeriveInput) -> syn::Result<Self> {
        let named = match &input.data {
            Data::Struct(s) => match &s.fields {
                Fields::Named(named) => named,
                _ => return Err(needs_named_fields(input)),
            },
            _ => return Err(needs_named_fields(input)),
        };
        let attrs = struct_attrs(input)?;

        let model = match &attrs.model {
            Some(lit) => {
                check_name(&lit.value(), "model", lit.span())?;
                lit.value()
            }
            None => {
                let name = input.ident.to_string().to_snake_case();
                check_name(&name, "model", input.ident.span()).map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        format!("{e}; give one with #[pusherable(model = \"...\")]"),
                    )
                })?;
                name
            }
        };
        let namespace = match &attrs.namespace {
            Some(lit) => {
                check_name(&lit.value(), "namespace", lit.span())?;
                Some(lit.value())
            }
            None => None,
        };

        let mut parsed = Vec::new();
        for field in &named.named {
            let Some(ident) = field.ident.clone() else {
                return Err(needs_named_fields(input));
            };
            parsed.push((ident, field.ty.clone(), field_attrs(field)?));
        }
        let known = |list: &[Ident]| -> syn::Result<()> {
            for name in list {
                if !parsed.iter().any(|(ident, _, _)| ident == name) {
                    return Err(syn::Error::new(
                        name.span(),
                        format!("`{}` has no field `{name}`", input.ident),
                    ));
                }
            }
            Ok(())
        };
        if let Some(list) = &attrs.include {
            known(list)?;
        }
        if let Some(list) = &attrs.exclude {
            known(list)?;
        }

        let key = find_key(input, &parsed)?;
        let mut fields = Vec::new();
        for (ident, ty, fa) in parsed {
            let listed = |list: &Option<Vec<Ident>>| list.as_ref().map(|l| l.contains(&ident));
            if fa.secret {
                if listed(&attrs.include) == Some(true) {
                    return Err(syn::Error::new(
                        ident.span(),
                        format!("`{ident}` is marked secret and can never be sent: remove it from include(...)"),
                    ));
                }
                if ident == key.0 {
                    return Err(syn::Error::new(
                        ident.span(),
                        format!("`{ident}` is the key, which is part of the channel name, so it cannot be secret"),
                    ));
                }
                continue;
            }
            let included = match (listed(&attrs.include), listed(&attrs.exclude)) {
                (Some(inc), _) => inc,
                (None, Some(exc)) => !exc,
                (None, None) => true,
            };
            if !included || fa.skip || fa.serde_skip {
                continue;
            }
            let name = fa.rename.clone().unwrap_or_else(|| {
                let plain = ident.to_string();
                let plain = plain.strip_prefix("r#").unwrap_or(&plain).to_owned();
                attrs
                    .rename_all
                    .map_or(plain.clone(), |rule| rule.apply(&plain))
            });
            fields.push(Field {
                ident,
                ty,
                name,
                write: fa.write.map_or(Write::Serialize, Write::Function),
                flatten: fa.flatten,
                skip_if: fa.skip_if,
            });
        }

        Ok(Model {
            krate: attrs
                .krate
                .unwrap_or_else(|| syn::parse_quote!(::pusherable)),
            model,
            namespace,
            kind: attrs.kind.map_or(Kind::Private, |(kind, _)| kind),
            key: key.0,
            key_ty: key.1,
            fields,
        })
    }
}

fn needs_named_fields(input: &DeriveInput) -> syn::Error {
    syn::Error::new(
        input.ident.span(),
        "#[derive(Pusherable)] needs a struct with named fields",
    )
}

/// The rule for model names and namespaces, as the `pusherable` crate checks them at run time.
fn check_name(name: &str, what: &str, span: proc_macro2::Span) -> syn::Result<()> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(syn::Error::new(
            span,
            format!("{what} name {name:?} must be made of ASCII letters, digits and `_`"),
        ));
    }
    if what == "model" && RESERVED_MODELS.contains(&name) {
        return Err(syn::Error::new(
            span,
            format!("model name {name:?} would make a channel name with a special prefix; choose another"),
        ));
    }
    Ok(())
}

fn find_key(
    input: &DeriveInput,
    fields: &[(Ident, Type, FieldAttrs)],
) -> syn::Result<(Ident, Type)> {
    let marked: Vec<_> = fields.iter().filter(|(_, _, a)| a.key).collect();
    match marked.as_slice() {
        [(ident, ty, _)] => return Ok((ident.clone(), ty.clone())),
        [_, (second, _, _), ..] => {
            return Err(syn::Error::new(
                second.span(),
                "only one field can be #[pusherable(key)]",
            ))
        }
        [] => {}
    }
    for default in ["id", "pk"] {
        if let Some((ident, ty, _)) = fields.iter().find(|(i, _, _)| i == default) {
            return Ok((ident.clone(), ty.clone()));
        }
    }
    Err(syn::Error::new(
        input.ident.span(),
        "no field named `id` or `pk`: mark the primary key with #[pusherable(key)]",
    ))
}

fn struct_attrs(input: &DeriveInput) -> syn::Result<StructAttrs> {
    let mut out = StructAttrs::default();
    for attr in &input.attrs {
        if attr.path().is_ident("pusherable") {
            attr.parse_nested_meta(|meta| {
                let path = &meta.path;
                if path.is_ident("crate") {
                    let lit: LitStr = meta.value()?.parse()?;
                    out.krate = Some(lit.parse()?);
                } else if path.is_ident("model") {
                    out.model = Some(meta.value()?.parse()?);
                } else if path.is_ident("namespace") {
                    out.namespace = Some(meta.value()?.parse()?);
                } else if let Some(kind) = [
                    ("private", Kind::Private),
                    ("presence", Kind::Presence),
                    ("public", Kind::Public),
                ]
                .iter()
                .find(|(name, _)| path.is_ident(name))
                .map(|(_, kind)| *kind)
                {
                    if out.kind.is_some() {
                        return Err(meta.error("give one of private, presence or public"));
                    }
                    out.kind = Some((kind, path.span()));
                } else if path.is_ident("include") || path.is_ident("exclude") {
                    if out.include.is_some() || out.exclude.is_some() {
                        return Err(meta.error("give include(...) or exclude(...), once"));
                    }
                    let mut names = Vec::new();
                    meta.parse_nested_meta(|inner| {
                        names.push(inner.path.require_ident()?.clone());
                        Ok(())
                    })?;
                    if path.is_ident("include") {
                        out.include = Some(names);
                    } else {
                        out.exclude = Some(names);
                    }
                } else {
                    return Err(meta.error(
                        "unknown attribute; expected model, namespace, private, presence, public, include, exclude or crate",
                    ));
                }
                Ok(())
            })?;
        } else if attr.path().is_ident("serde") {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename_all") {
                    if let Some(lit) = serialize_name(&meta)? {
                        out.rename_all =
                            Some(RenameRule::parse(&lit.value()).ok_or_else(|| {
                                syn::Error::new(lit.span(), "unknown rename_all rule")
                            })?);
                    }
                    Ok(())
                } else {
                    skip(&meta)
                }
            })?;
        }
    }
    Ok(out)
}

fn field_attrs(field: &syn::Field) -> syn::Result<FieldAttrs> {
    let mut out = FieldAttrs::default();
    for attr in &field.attrs {
        if attr.path().is_ident("pusherable") {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("key") {
                    out.key = true;
                } else if meta.path.is_ident("secret") {
                    out.secret = true;
                } else if meta.path.is_ident("skip") {
                    out.skip = true;
                } else {
                    return Err(meta.error("unknown attribute; expected key, secret or skip"));
                }
                Ok(())
            })?;
        } else if attr.path().is_ident("serde") {
            attr.parse_nested_meta(|meta| {
                let path = &meta.path;
                if path.is_ident("rename") {
                    if let Some(lit) = serialize_name(&meta)? {
                        out.rename = Some(lit.value());
                    }
                } else if path.is_ident("skip") || path.is_ident("skip_serializing") {
                    out.serde_skip = true;
                } else if path.is_ident("flatten") {
                    out.flatten = true;
                } else if path.is_ident("skip_serializing_if") {
                    let lit: LitStr = meta.value()?.parse()?;
                    out.skip_if = Some(lit.parse()?);
                } else if path.is_ident("serialize_with") {
                    let lit: LitStr = meta.value()?.parse()?;
                    out.write = Some(lit.parse()?);
                } else if path.is_ident("with") {
                    let lit: LitStr = meta.value()?.parse()?;
                    let mut module: Path = lit.parse()?;
                    module.segments.push(syn::parse_quote!(serialize));
                    out.write = Some(module);
                } else {
                    skip(&meta)?;
                }
                Ok(())
            })?;
        }
    }
    Ok(out)
}

/// The serialize-side name of `rename = "x"` or `rename(serialize = "x", ...)`.
fn serialize_name(meta: &ParseNestedMeta<'_>) -> syn::Result<Option<LitStr>> {
    if meta.input.peek(Token![=]) {
        return Ok(Some(meta.value()?.parse()?));
    }
    let mut found = None;
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("serialize") {
            found = Some(inner.value()?.parse()?);
            Ok(())
        } else {
            skip(&inner)
        }
    })?;
    Ok(found)
}

/// Consumes a serde attribute that does not change the payload.
fn skip(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.parse_nested_meta(|inner| skip(&inner))?;
    }
    Ok(())
}
