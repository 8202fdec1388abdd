//! Generates the registration of a hook: the function as written, and a descriptor in the
//! runtime's registry holding the checked arguments (the guard's as `GuardSettings`) and a wrapper
//! that runs the function after forkline's own setup. Everything it names of forkline is under
//! `__private::v1` (`private.rs`).

use crate::grammar::Attr;
use crate::hook::args::HookArgs;
use crate::hook::guard::GuardArgs;
use crate::hook::kind::HookKind;
use crate::hook::signature::Signature;
use crate::hook::value::DsnArg;
use crate::item::ItemFn;
use crate::private::Private;
use crate::returns;
use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

pub(crate) fn expand(
    p: &Private,
    kind: HookKind,
    args: &HookArgs,
    sig: &Signature,
    item: &ItemFn,
) -> TokenStream {
    let fn_name = &item.sig.ident;
    let fn_name_str = fn_name.to_string();
    let (registry, descriptor) = kind.registry();
    let registry = Ident::new(registry, Span::call_site());
    let descriptor = Ident::new(descriptor, Span::call_site());
    let static_name = format_ident!(
        "__FORKLINE_{}_HOOK_{}",
        kind.attr_name().to_uppercase(),
        fn_name_str.to_uppercase()
    );

    // The wrapper takes every context the point hands out, and passes the user's function those
    // it asked for, in its order (each with the span of its parameter's type).
    let call_args = sig
        .params
        .iter()
        .map(|(param, span)| Ident::new(param.binding(), *span));
    let call = quote!(#fn_name(#(#call_args),*));
    let inputs = kind.allowed_params().iter().map(|param| {
        let name = Ident::new(param.binding(), Span::call_site());
        let ty = Ident::new(param.type_name(), Span::call_site());
        quote!(#name: &#p::#ty)
    });
    // Only worker hooks may be async (checked): they run it on the worker's runtime.
    let body = if sig.is_async {
        quote!(#p::block_on_hook(__forkline_worker, #call))
    } else {
        call
    };
    // At the return type (its error type when written: `Result<(), E>` fails only for an `E`
    // without `Display`; the function's name without one), so that a type the runtime does not
    // take as a hook's outcome is reported there, in `HookReturn`'s words.
    let returned = match (&item.sig.output, returns::error_type(&item.sig.output)) {
        (_, Some(error)) => syn::spanned::Spanned::span(error),
        (syn::ReturnType::Type(_, ty), None) => syn::spanned::Spanned::span(ty),
        (syn::ReturnType::Default, None) => fn_name.span(),
    };
    let outcome = p.at(returned);
    let outcome = quote_spanned! {returned=>
        #outcome::HookReturn::into_hook_result(__forkline_returned)
    };
    let wrapper = quote! {
        fn __forkline_run(#(#inputs),*) -> #p::HookResult {
            let __forkline_returned = #body;
            #outcome
        }
    };

    let extra_fields = match kind {
        HookKind::PostFork => {
            let otel = otel_args(p, args);
            quote!(otel: #otel,)
        }
        HookKind::WorkerInit => {
            let sentry = sentry_args(p, args);
            let propagators = opt(args.propagators.value());
            quote!(sentry: #sentry, propagators: #propagators,)
        }
        HookKind::WorkerExit => {
            let deadline = opt(args.deadline_ms.value());
            quote!(deadline_ms: #deadline,)
        }
        _ => TokenStream::new(),
    };

    // One `post_fork` / `worker_init` / `worker_exit` per binary. Two `#[macro_export]` macros of
    // one name in a crate are a name clash at the crate root, so a second hook in the same crate
    // fails to compile, pointing at its function name. (Across crates, the runtime checks at start.)
    let singleton = if kind.is_singleton() {
        let marker = format_ident!(
            "forkline_allows_one_{}_hook_per_binary__merge_the_two_into_one_function",
            kind.attr_name(),
            span = fn_name.span()
        );
        quote_spanned! {fn_name.span()=>
            #[doc(hidden)]
            #[macro_export]
            macro_rules! #marker { () => {}; }
        }
    } else {
        TokenStream::new()
    };

    let import = p.import();
    quote! {
        #item

        #singleton

        // In a block of its own, so that forkline's path is imported once (`private.rs`). The
        // wrapper stays out of the registry's element, which linkme re-emits through a macro of
        // forkline's: an error in it then points at the user's token, not at the attribute.
        const _: () = {
        #import

        #wrapper

        #p::hook_element! {
            #registry,
            #static_name: #descriptor = #p::#descriptor {
                site: #p::HookSite {
                    function: #fn_name_str,
                    module: ::core::module_path!(),
                    file: ::core::file!(),
                    line: ::core::line!(),
                    crate_name: ::core::env!("CARGO_PKG_NAME"),
                    crate_version: ::core::env!("CARGO_PKG_VERSION"),
                },
                #extra_fields
                run: __forkline_run,
            }
        }
        };
    }
}

/// `Some(value)` or `None` as tokens, for the descriptor's optional fields.
fn opt<T: quote::ToTokens>(value: Option<T>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

/// An argument's value as `Some(value)`, or `None` where it was not given.
fn opt_arg<T: quote::ToTokens>(arg: &Attr<T>) -> TokenStream {
    opt(arg.value())
}

fn otel_args(p: &Private, args: &HookArgs) -> TokenStream {
    let o = &args.otel;
    let service_name = opt_arg(&o.service_name);
    let service_version = opt_arg(&o.service_version);
    let environment = opt_arg(&o.environment);
    let sampler = opt_arg(&o.sampler);
    let ratio = opt_arg(&o.ratio);
    let exporter = opt_arg(&o.exporter);
    let endpoint = opt_arg(&o.endpoint);
    let guard = guard_settings(p, o.guard.value());
    let metrics = match o.metrics.value() {
        None => quote!(#p::MetricsArgs::NONE),
        Some(m) => {
            let exporter = opt_arg(&m.exporter);
            let interval_ms = opt_arg(&m.interval_ms);
            let timeout_ms = opt_arg(&m.timeout_ms);
            let temporality = opt_arg(&m.temporality);
            quote! {
                #p::MetricsArgs {
                    exporter: #exporter,
                    interval_ms: #interval_ms,
                    timeout_ms: #timeout_ms,
                    temporality: #temporality,
                }
            }
        }
    };
    let logs = match o.logs.value() {
        None => quote!(#p::LogsArgs::NONE),
        Some(l) => {
            let exporter = opt_arg(&l.exporter);
            let level = opt_arg(&l.level);
            let schedule_delay_ms = opt_arg(&l.schedule_delay_ms);
            quote! {
                #p::LogsArgs {
                    exporter: #exporter,
                    level: #level,
                    schedule_delay_ms: #schedule_delay_ms,
                }
            }
        }
    };
    quote! {
        #p::OtelArgs {
            service_name: #service_name,
            service_version: #service_version,
            environment: #environment,
            sampler: #sampler,
            ratio: #ratio,
            exporter: #exporter,
            endpoint: #endpoint,
            guard: #guard,
            metrics: #metrics,
            logs: #logs,
        }
    }
}

fn sentry_args(p: &Private, args: &HookArgs) -> TokenStream {
    let Some(s) = args.sentry.value() else {
        return quote!(#p::SentryArgs::DEFAULT);
    };
    let enabled = opt_arg(&s.enabled);
    let dsn = opt(s.dsn.value().map(|dsn| match dsn {
        DsnArg::Literal(lit) => quote!(#p::DsnArg::Literal(#lit)),
        DsnArg::Env(var) => quote!(#p::DsnArg::Env(#var)),
    }));
    let environment = opt_arg(&s.environment);
    let release = opt_arg(&s.release);
    let traces_sample_rate = opt_arg(&s.traces_sample_rate);
    let sample_rate = opt_arg(&s.sample_rate);
    let debug = opt_arg(&s.debug);
    let guard = guard_settings(p, s.guard.value());
    quote! {
        #p::SentryArgs {
            enabled: #enabled,
            dsn: #dsn,
            environment: #environment,
            release: #release,
            traces_sample_rate: #traces_sample_rate,
            sample_rate: #sample_rate,
            debug: #debug,
            guard: #guard,
        }
    }
}

/// The `GuardSettings` value.
fn guard_settings(p: &Private, g: Option<&GuardArgs>) -> TokenStream {
    let Some(g) = g else {
        return quote!(#p::GuardSettings::NONE);
    };
    let ms = |v: &Attr<u64>| match v.value() {
        Some(&n) => {
            quote!(::core::option::Option::Some(::core::time::Duration::from_millis(#n)))
        }
        None => quote!(::core::option::Option::None),
    };
    let count = |v: &Attr<u64>, ty: TokenStream| match v.value() {
        Some(&n) => {
            let n = proc_macro2::Literal::u64_unsuffixed(n);
            quote!(::core::option::Option::Some(#n as #ty))
        }
        None => quote!(::core::option::Option::None),
    };
    let connect_timeout = ms(&g.connect_timeout_ms);
    let attempt_timeout = ms(&g.attempt_timeout_ms);
    let backoff_base = ms(&g.backoff_base_ms);
    let backoff_cap = ms(&g.backoff_cap_ms);
    let breaker_cooldown = ms(&g.breaker_cooldown_ms);
    let max_retries = count(&g.max_retries, quote!(u32));
    let breaker_failures = count(&g.breaker_failures, quote!(u32));
    let queue_capacity = count(&g.queue_capacity, quote!(usize));
    let buffer_budget_bytes = count(&g.buffer_budget_bytes, quote!(usize));
    quote! {
        #p::GuardSettings {
            connect_timeout: #connect_timeout,
            attempt_timeout: #attempt_timeout,
            max_retries: #max_retries,
            backoff_base: #backoff_base,
            backoff_cap: #backoff_cap,
            breaker_failures: #breaker_failures,
            breaker_cooldown: #breaker_cooldown,
            queue_capacity: #queue_capacity,
            buffer_budget_bytes: #buffer_budget_bytes,
        }
    }
}
