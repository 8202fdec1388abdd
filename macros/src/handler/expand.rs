//! Generates the instrumented function: the same signature and attributes, a body that starts
//! the span (attributes only when it is recorded), runs the original body with the span active
//! (across `.await` for async bodies; panics recorded and resumed), reports `Err` with `err`,
//! and ends the span when the call returns; with `metrics`, a timer records the call's duration
//! when the function's locals are dropped (after the span ended, panics included). Everything it names of forkline is under
//! `__private::v1` (`private.rs`).

use crate::handler::args::HandlerArgs;
use crate::handler::check::{nameable, Recorded};
use crate::item::ItemFn;
use crate::private::Private;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{LitStr, ReturnType};

pub(crate) fn expand(
    p: &Private,
    args: &HandlerArgs,
    recorded: &Recorded,
    func: &ItemFn,
) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let name = match args.name.value() {
        Some(name) => name.clone(),
        None => LitStr::new(&sig.ident.to_string(), sig.ident.span()),
    };
    // No `kind`: the runtime decides per call (`server` at the head of a trace, `internal` under
    // a span of this process, such as `TelemetryLayer`'s).
    let kind = match args.kind.value().map(String::as_str) {
        Some("server") => Some(quote!(Server)),
        Some("client") => Some(quote!(Client)),
        Some("internal") => Some(quote!(Internal)),
        Some("producer") => Some(quote!(Producer)),
        Some("consumer") => Some(quote!(Consumer)),
        _ => None,
    };
    let (start, kind) = match kind {
        Some(kind) => (quote!(start), quote!(#p::handler::SpanKind::#kind,)),
        None => (quote!(start_default_kind), TokenStream::new()),
    };
    let records = recorded.bindings.iter().map(|b| {
        let key = b.to_string();
        let p = p.at(b.span());
        quote_spanned! {b.span()=>
            #p::handler::record(&#b, #key, __forkline_out);
        }
    });
    let fields = args.fields.value().map_or(&[][..], Vec::as_slice);
    let capacity = recorded.bindings.len() + fields.len();
    let fields = fields.iter().map(|f| {
        let p = p.at(f.key_span);
        let key = &f.key;
        let value = &f.value;
        if let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(lit),
            ..
        }) = value
        {
            // A literal needs no copy.
            return quote_spanned! {f.key_span=>
                #p::handler::record_static(
                    #lit,
                    #p::handler::AttributeKey::Argument(#key),
                    __forkline_out,
                );
            };
        }
        quote_spanned! {f.key_span=>
            #p::handler::record(&(#value), #key, __forkline_out);
        }
    });
    // The body runs in a closure (or an async block) with the function's return type, so that
    // `return` and `?` in it are checked against that type at their own tokens, as without the
    // macro: a `return` of that type that never runs comes first and fixes the closure's return
    // type (tracing-attributes' "fake return edge"). `impl Trait` cannot be written there, so it
    // is then left to inference.
    let returned = match &sig.output {
        ReturnType::Type(_, ty) if nameable(&sig.output) => Some((quote!(#ty), ty.span())),
        ReturnType::Default => Some((quote!(()), sig.ident.span())),
        ReturnType::Type(..) => None,
    };
    let fake_return = returned.as_ref().map(|(ty, span)| {
        quote_spanned! {*span=>
            #[allow(
                unknown_lints, unreachable_code, clippy::diverging_sub_expression,
                clippy::let_unit_value, clippy::unreachable, clippy::let_with_type_underscore,
                clippy::empty_loop
            )]
            if false {
                let __forkline_fake_return: #ty = loop {};
                return __forkline_fake_return;
            }
        }
    });
    let run = if sig.asyncness.is_some() {
        quote! {
            __forkline_span
                .instrument(async move {
                    #fake_return
                    #block
                })
                .await
        }
    } else {
        quote! {
            __forkline_span.in_scope(move || {
                #fake_return
                #block
            })
        }
    };
    let fn_name = sig.ident.to_string();
    let report = if args.err.is_set() {
        // At the return type: a type that is not a `Result` is reported there, in
        // `ReturnsResult`'s words.
        let at = match &sig.output {
            ReturnType::Type(_, ty) => ty.span(),
            ReturnType::Default => sig.ident.span(),
        };
        let err_ref = p.at(at);
        let err_ref = quote_spanned! {at=>
            #err_ref::handler::ReturnsResult::err_ref(&__forkline_result)
        };
        quote! {
            if let ::core::option::Option::Some(__forkline_error) = #err_ref {
                #[allow(unused_imports)]
                use #p::handler::{
                    ViaChain as _, ViaDisplay as _, ViaError as _,
                };
                (&__forkline_error)
                    .forkline_report(&__forkline_span, {
                        const __FORKLINE_SITE: #p::handler::HandlerSite =
                            #p::handler::HandlerSite {
                                module: ::core::module_path!(),
                                dir: ::core::env!("CARGO_MANIFEST_DIR"),
                                function: #fn_name,
                            };
                        &__FORKLINE_SITE
                    });
            }
        }
    } else {
        TokenStream::new()
    };
    let timer = if args.metrics.is_set() {
        quote! {
            let __forkline_timer = #p::handler::HandlerTimer::start(#name);
        }
    } else {
        TokenStream::new()
    };
    let import = p.import();
    quote! {
        #(#attrs)*
        #vis #sig {
            #import
            #timer
            let __forkline_span = #p::handler::HandlerSpan::#start(
                #name,
                #kind
                #capacity,
                |__forkline_out: &mut ::std::vec::Vec<#p::handler::KeyValue>| {
                    #(#records)*
                    #(#fields)*
                },
            );
            #[allow(clippy::redundant_closure_call, unused_braces)]
            let __forkline_result = #run;
            #report
            __forkline_result
        }
    }
}
