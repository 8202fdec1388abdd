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
    // Under a prefix (a struct nested in another), the struct's keys are joined once per prefix
    // and kept (`JoinedKeys`), instead of a string made per field and call: one look per call
    // finds them all.
    let keyed: Vec<&Recorded<'_>> = recorded
        .iter()
        .filter(|field| !matches!(field.how, How::Flattened))
        .collect();
    let count = keyed.len();
    let keys = keyed.iter().map(|field| &field.key);
    let joined = if count > 0 {
        quote! {
            #[allow(unused_variables)]
            let __forkline_joined = if __forkline_prefixed {
                static __FORKLINE_JOINED: #private::handler::JoinedKeys<#count> =
                    #private::handler::JoinedKeys::new();
                __FORKLINE_JOINED.joined(&__forkline_key, [#(#keys),*])
            } else {
                ::core::option::Option::None
            };
        }
    } else {
        TokenStream::new()
    };
    let mut index = 0usize;
    let statements: Vec<TokenStream> = recorded.iter().map(|field| {
        let Recorded { ident, ty, key, how } = field;
        let p = private.at(ty.span());
        let i = index;
        if !matches!(how, How::Flattened) {
            index += 1;
        }
        let key_at = quote_spanned! {ty.span()=>
            match __forkline_joined {
                ::core::option::Option::Some(__forkline_keys) => {
                    #p::handler::AttributeKey::Field(__forkline_keys[#i])
                }
                // Past the prefixes kept: joined for this call.
                ::core::option::Option::None if __forkline_prefixed => {
                    #p::handler::AttributeKey::Joined(__forkline_key.join(#key))
                }
                ::core::option::Option::None => #p::handler::AttributeKey::Field(#key),
            }
        };
        match how {
            How::Redacted => quote_spanned! {ty.span()=>
                __forkline_out.push(#p::handler::KeyValue::new(
                    #key_at.key(),
                    #p::handler::REDACTED,
                ));
            },
            // A `&'static str` needs no copy.
            How::StaticStr => quote_spanned! {ty.span()=>
                #p::handler::record_static(self.#ident, #key_at, __forkline_out);
            },
            How::Flattened => quote_spanned! {ty.span()=>
                #p::handler::SpanAttributes::record(&self.#ident, ::core::clone::Clone::clone(&__forkline_key), __forkline_out);
            },
            How::Value => quote_spanned! {ty.span()=>
                #p::handler::SpanAttributes::record(&self.#ident, #key_at, __forkline_out);
            },
        }
    }).collect();
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
                #[inline]
                fn record(
                    &self,
                    __forkline_key: #p::handler::AttributeKey,
                    __forkline_out: &mut ::std::vec::Vec<#p::handler::KeyValue>,
                ) {
                    // Looked at once: under a prefix (a struct nested in another), keys are joined.
                    #[allow(unused_variables)]
                    let __forkline_prefixed = __forkline_key.prefix().is_some();
                    #joined
                    #(#statements)*
                }
            }
        };
    }
}
