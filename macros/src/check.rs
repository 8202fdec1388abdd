//! Rules on values and between arguments, checked after every argument has been read.

use crate::attr::{HookArgs, MAX_DEADLINE_MS};
use crate::ctxt::Ctxt;
use crate::grammar::Spanned;
use crate::value::DsnArg;
use syn::LitStr;

pub(crate) const SAMPLERS: &[&str] = &[
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
];
const RATIO_SAMPLERS: &[&str] = &["traceidratio", "parentbased_traceidratio"];
const EXPORTERS: &[&str] = &["otlp", "embedded", "none"];
const PROPAGATORS: &[&str] = &["tracecontext", "baggage", "sentry", "none"];

pub(crate) fn check(cx: &Ctxt, args: &HookArgs) {
    let otel = &args.otel;
    unit_interval(cx, "ratio", otel.ratio.get());
    if let Some(sampler) = otel.sampler.get() {
        let name = sampler.value.value();
        if !SAMPLERS.contains(&name.as_str()) {
            cx.error(
                sampler.value_span,
                format!(
                    "unknown sampler \"{name}\"{}; the OTEL_TRACES_SAMPLER names are: {}",
                    crate::suggest::nearest(&name, SAMPLERS)
                        .map(|s| format!(" (did you mean \"{s}\"?)"))
                        .unwrap_or_default(),
                    SAMPLERS.join(", ")
                ),
            );
        } else if let Some(ratio) = otel.ratio.get() {
            if !RATIO_SAMPLERS.contains(&name.as_str()) {
                cx.error(
                    ratio.name_span,
                    format!(
                        "`ratio` only applies to the ratio samplers ({}); sampler \"{name}\" ignores it: \
                         remove `ratio` or use sampler = \"parentbased_traceidratio\"",
                        RATIO_SAMPLERS.join(", ")
                    ),
                );
            }
        }
    }
    non_empty(cx, "service_name", otel.service_name.get());
    non_empty(cx, "service_version", otel.service_version.get());
    non_empty(cx, "environment", otel.environment.get());
    let exporter = otel.exporter.value().map(LitStr::value);
    if let (Some(name), Some(spanned)) = (&exporter, otel.exporter.get()) {
        if !EXPORTERS.contains(&name.as_str()) {
            cx.error(
                spanned.value_span,
                format!(
                    "unknown exporter \"{name}\"; choose one of: {} (\"embedded\" writes OTLP JSON files locally)",
                    EXPORTERS.join(", ")
                ),
            );
        }
    }
    if let Some(g) = otel.guard.value() {
        crate::guard::check(cx, g);
    }
    if let Some(endpoint) = otel.endpoint.get() {
        let url = endpoint.value.value();
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || url.len() <= "https://".len()
        {
            cx.error(
                endpoint.value_span,
                "`endpoint` must be an http:// or https:// URL, such as \"http://127.0.0.1:4318\"",
            );
        }
        if matches!(exporter.as_deref(), Some("embedded" | "none")) {
            cx.error(
                endpoint.name_span,
                "`endpoint` only applies to exporter = \"otlp\": remove one of the two",
            );
        }
    }

    if let Some(sentry) = args.sentry.value() {
        unit_interval(cx, "traces_sample_rate", sentry.traces_sample_rate.get());
        unit_interval(cx, "sample_rate", sentry.sample_rate.get());
        non_empty(cx, "environment", sentry.environment.get());
        non_empty(cx, "release", sentry.release.get());
        if let Some(dsn) = sentry.dsn.get() {
            check_dsn(cx, dsn);
        }
        if let Some(g) = sentry.guard.value() {
            crate::guard::check(cx, g);
        }
    }

    if let Some(propagators) = args.propagators.get() {
        for name in propagators.value.value().split(',').map(str::trim) {
            if !PROPAGATORS.contains(&name) {
                cx.error(
                    propagators.value_span,
                    format!(
                        "unknown propagator \"{name}\"; forkline supports: {} (comma-separated, as in OTEL_PROPAGATORS)",
                        PROPAGATORS.join(", ")
                    ),
                );
            }
        }
    }

    if let Some(deadline) = args.deadline_ms.get() {
        if deadline.value == 0 || deadline.value > MAX_DEADLINE_MS {
            cx.error(
                deadline.value_span,
                format!(
                    "`deadline_ms` must be between 1 and {MAX_DEADLINE_MS} milliseconds; it bounds the \
                     whole flush and shutdown of the worker's telemetry"
                ),
            );
        }
    }
}

fn unit_interval(cx: &Ctxt, name: &str, value: Option<&Spanned<f64>>) {
    if let Some(v) = value {
        if !(0.0..=1.0).contains(&v.value) {
            cx.error(
                v.value_span,
                format!(
                    "`{name}` is a probability and must be between 0.0 and 1.0 (got {}); \
                     for example 0.25 keeps one trace in four",
                    v.value
                ),
            );
        }
    }
}

fn non_empty(cx: &Ctxt, name: &str, value: Option<&Spanned<LitStr>>) {
    if let Some(v) = value {
        if v.value.value().trim().is_empty() {
            cx.error(
                v.value_span,
                format!("`{name}` must not be empty; remove it to use the default"),
            );
        }
    }
}

fn check_dsn(cx: &Ctxt, dsn: &Spanned<DsnArg>) {
    match &dsn.value {
        DsnArg::Env(var) => {
            let name = var.value();
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                cx.error(
                    var.span(),
                    "not an environment variable name: use letters, digits and `_`, as in \"SENTRY_DSN\"",
                );
            }
        }
        DsnArg::Literal(lit) => {
            // The DSN's key is a secret: the message describes the problem without echoing it.
            let text = lit.value();
            let shaped = (text.starts_with("https://") || text.starts_with("http://"))
                && text.contains('@')
                && text.rsplit('/').next().is_some_and(|project| {
                    !project.is_empty() && project.chars().all(|c| c.is_ascii_digit())
                });
            if !text.is_empty() && !shaped {
                cx.error(
                    lit.span(),
                    "this is not a Sentry DSN: expected `https://PUBLIC_KEY@HOST/PROJECT_ID` \
                     (or use dsn = env(\"SENTRY_DSN\"))",
                );
            }
        }
    }
}
