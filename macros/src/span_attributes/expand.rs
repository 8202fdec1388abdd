//! Generates the `SpanAttributes` impl: one statement a recorded field, each pushing the field's
//! attributes under its key (joined to the caller's prefix when there is one). Everything it names
//! of forkline is under `__private::v1` (`private.rs`).

use crate::private::Private;
use crate::span_attributes::check::{How, Recorded};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::DeriveInput;

pub(crate) fn expand(
    input: &DeriveInput,
    private: &Private,
    recorded: &[Recorded<'_>],
) -> TokenStream {
    let statements = recorded.iter().map(|field| {
        let Recorded { ident, ty, key, how } = field;
        let p = private.at(ty.span());
        match how {
            How::Redacted => quote_spanned! {ty.span()=>
                __forkline_out.push(#p::handler::KeyValue::new(
                    match __forkline_key.prefix() {
                        ::core::option::Option::None => #p::opentelemetry::Key::from_static_str(#key),
                        ::core::option::Option::Some(_) => #p::opentelemetry::Key::from(__forkline_key.join(#key)),
                    },
                    #p::handler::REDACTED,
                ));
            },
            // A `&'static str` needs no copy.
            How::StaticStr => quote_spanned! {ty.span()=>
                #p::handler::record_static(
                    self.#ident,
                    match __forkline_key.prefix() {
                        ::core::option::Option::None => #p::handler::AttributeKey::Field(#key),
                        ::core::option::Option::Some(_) => #p::handler::AttributeKey::Joined(__forkline_key.join(#key)),
                    },
                    __forkline_out,
                );
            },
            How::Flattened => quote_spanned! {ty.span()=>
                #p::handler::SpanAttributes::record(&self.#ident, ::core::clone::Clone::clone(&__forkline_key), __forkline_out);
            },
            How::Value => quote_spanned! {ty.span()=>
                match __forkline_key.prefix() {
                    ::core::option::Option::None => #p::handler::SpanAttributes::record(
                        &self.#ident,
                        #p::handler::AttributeKey::Field(#key),
                        __forkline_out,
                    ),
                    ::core::option::Option::Some(_) => #p::handler::SpanAttributes::record(
                        &self.#ident,
                        #p::handler::AttributeKey::Joined(__forkline_key.join(#key)),
                        __forkline_out,
                    ),
                }
            },
        }
    });
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let p = private;
    let import = private.import();
    quote! {
        // In a block of its own, so that forkline's path is imported once (`private.rs`).
        const _: () = {
            #import
            #[automatically_derived]
            impl #impl_generics #p::handler::SpanAttributes for #ident #ty_generics #where_clause {
                fn record(
                    &self,
                    __forkline_key: #p::handler::AttributeKey,
                    __forkline_out: &mut ::std::vec::Vec<#p::handler::KeyValue>,
                ) {
                    #(#statements)*
                }
            }
        };
    }
}
