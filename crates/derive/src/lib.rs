//! `#[derive(Pusherable)]` for the `pusherable` crate.
//!
//! Use it through `pusherable`, which re-exports it next to the trait it implements; the
//! attributes are documented there, on `pusherable::Pusherable`.
//!
//! # Layout
//!
//! - `attrs`: reads `#[pusherable(...)]` and the `#[serde(...)]` attributes that change how a
//!   field is named or written, and checks them against each other.
//! - `case`: serde's `rename_all` rules, so payload keys match the app's own JSON.
//! - `expand`: writes the `impl Pusherable`.
//!
//! **Architecture invariant:** every mistake is a compile error that points at the attribute or
//! field at fault; the generated code never serializes a field marked `secret`, not even to
//! throw it away.

mod attrs;
mod case;
mod expand;

use proc_macro::TokenStream;

/// Implements `pusherable::Pusherable` for a struct with named fields.
///
/// See `pusherable::Pusherable` for the attributes and an example.
#[proc_macro_derive(Pusherable, attributes(pusherable))]
pub fn derive_pusherable(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    attrs::Model::from_input(&input)
        .map(|model| expand::expand(&input, &model))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
