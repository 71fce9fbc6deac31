//! The generated `impl Pusherable`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::attrs::{Kind, Model, Write};

pub(crate) fn expand(input: &DeriveInput, model: &Model) -> TokenStream {
    let krate = &model.krate;
    let ident = &input.ident;
    let private = quote!(#krate::__private);

    let mut generics = input.generics.clone();
    if generics.type_params().next().is_some() {
        // Generic fields need their bounds spelled out; plain ones are checked as written.
        let clause = generics.make_where_clause();
        let key_ty = &model.key_ty;
        clause
            .predicates
            .push(syn::parse_quote!(#key_ty: ::core::fmt::Display));
        for field in &model.fields {
            if let Write::Serialize = field.write {
                let ty = &field.ty;
                clause
                    .predicates
                    .push(syn::parse_quote!(#ty: #private::serde::Serialize));
            }
        }
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    let model_name = &model.model;
    let namespace = match &model.namespace {
        Some(ns) => quote!(::core::option::Option::Some(#ns)),
        None => quote!(::core::option::Option::None),
    };
    let kind = match model.kind {
        Kind::Private => quote!(#krate::Kind::Private),
        Kind::Presence => quote!(#krate::Kind::Presence),
        Kind::Public => quote!(#krate::Kind::Public),
    };
    let key = &model.key;

    let writes = model.fields.iter().map(|field| {
        let member = &field.ident;
        let name = &field.name;
        let value = match &field.write {
            Write::Serialize => quote!(#private::to_value(&self.#member)),
            Write::Function(path) => {
                quote!(#path(&self.#member, #private::serde_json::value::Serializer))
            }
        };
        let write = if field.flatten {
            quote!(#private::flatten(&mut fields, #value)?;)
        } else {
            quote!(fields.insert(::std::string::String::from(#name), #value?);)
        };
        match &field.skip_if {
            Some(path) => quote!(if !#path(&self.#member) { #write }),
            None => write,
        }
    });

    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::Pusherable for #ident #ty_generics #where_clause {
            const MODEL: &'static str = #model_name;
            const NAMESPACE: ::core::option::Option<&'static str> = #namespace;
            const KIND: #krate::Kind = #kind;

            fn pusherable_key(&self) -> ::std::string::String {
                ::std::string::ToString::to_string(&self.#key)
            }

            fn pusherable_fields(
                &self,
            ) -> ::core::result::Result<#krate::Fields, #private::serde_json::Error> {
                let mut fields = #krate::Fields::new();
                #(#writes)*
                ::core::result::Result::Ok(fields)
            }
        }
    }
}
