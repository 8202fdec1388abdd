//! The real backends the end-to-end tests talk to, started by `scripts/peers/peers` (through
//! `./scripts/test`), which exports their addresses as `FORKLINE_E2E_*` variables.

use crate::harness::Fixture;
use forkline_examples::http_get_with;
use serde_json::Value;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

/// How long a server may take to boot.
pub const BOOT: Duration = Duration::from_secs(30);
/// How long telemetry may take to show up in a backend.
pub const ARRIVAL: Duration = Duration::from_secs(30);

/// A resource attribute of a span as otelite returns it.
pub fn attr<'a>(span: &'a Value, key: &str) -> &'a Value {
    &span["resource"]["attributes"][key]
}

/// The fixture server `bin` with `workers` workers pointed at both backends, its telemetry tagged
/// with a fresh service name (also its Sentry environment) so shared backends can be queried.
pub fn start_against(
    bin: &str,
    peers: &Peers,
    prefix: &str,
    workers: &str,
    extra: &[(&str, &str)],
) -> (Fixture, String) {
    let service = unique(prefix);
    let mut env = peers.env();
    env.push(("FORKLINE_WORKERS", workers.into()));
    env.push(("OTEL_SERVICE_NAME", service.clone()));
    env.push(("SENTRY_ENVIRONMENT", service.clone()));
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    (Fixture::start(bin, &env), service)
}

/// Stops the server with TERM and returns its workers' reports.
pub fn stop(mut fx: Fixture) -> Vec<forkline::WorkerReport> {
    fx.signal(libc::SIGTERM);
    let status = fx
        .wait_exit(Duration::from_secs(20))
        .expect("master exits after TERM");
    assert!(status.success(), "{}", fx.stderr());
    forkline::read_reports(&fx.run_dir()).expect("worker reports")
}

/// The running Bugsink and otelite, as `./scripts/test` started them.
#[derive(Debug, Clone)]
pub struct Peers {
    pub otlp_endpoint: String,
    pub otlp_grpc_endpoint: String,
    pub otelite_api: SocketAddr,
    pub bugsink: SocketAddr,
    pub sentry_dsn: String,
    pub bugsink_project: String,
    pub bugsink_token: String,
    pub python: String,
    state: String,
    script: String,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the end-to-end tests need the real backends that ./scripts/test \
             starts (scripts/peers/peers start DIR writes them to DIR/peers.env)"
        )
    })
}

fn socket(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

impl Peers {
    pub fn from_env() -> Self {
        Self {
            otlp_endpoint: var("FORKLINE_E2E_OTLP_ENDPOINT"),
            otlp_grpc_endpoint: var("FORKLINE_E2E_OTLP_GRPC_ENDPOINT"),
            otelite_api: socket(&var("FORKLINE_E2E_OTELITE_API")),
            bugsink: socket(&var("FORKLINE_E2E_BUGSINK_URL")),
            sentry_dsn: var("FORKLINE_E2E_SENTRY_DSN"),
            bugsink_project: var("FORKLINE_E2E_BUGSINK_PROJECT"),
            bugsink_token: var("FORKLINE_E2E_BUGSINK_TOKEN"),
            python: var("FORKLINE_E2E_PYTHON"),
            state: var("FORKLINE_E2E_STATE"),
            script: var("FORKLINE_E2E_PEERS"),
        }
    }

    /// The environment that points a forkline server at both backends.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", self.otlp_endpoint.clone()),
            ("SENTRY_DSN", self.sentry_dsn.clone()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
        ]
    }

    /// Stops or restarts one backend (same port, same storage).
    pub fn ctl(&self, action: &str, peer: &str) {
        let status = Command::new(&self.script)
            .args(["ctl", &self.state, action, peer])
            .status()
            .expect("run the peers script");
        assert!(
            status.success(),
            "peers ctl {action} {peer} failed; logs are under {}",
            self.state
        );
    }

    fn get_json(&self, addr: SocketAddr, path: &str, bearer: Option<&str>) -> Value {
        let auth = bearer.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let (status, body) =
            http_get_with(addr, path, &headers).unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Every span otelite stored for `service`, each with `resource` attributes (otelite gives
    /// every attribute value as a string). Its trace list is filtered by service server-side
    /// (an unfiltered list stops at 500 traces).
    pub fn spans_of(&self, service: &str) -> Vec<Value> {
        let page = self.get_json(
            self.otelite_api,
            &format!("/api/traces?limit=1000&service={service}"),
            None,
        );
        let traces = page["traces"].as_array().cloned().unwrap_or_default();
        assert!(
            traces.len() < 1000,
            "otelite lists at most 1000 traces: too many for {service}"
        );
        traces
            .iter()
            .flat_map(|trace| self.trace(trace["trace_id"].as_str().unwrap_or_default()))
            .filter(|s| s["resource"]["attributes"]["service.name"] == service)
            .collect()
    }

    /// Every span otelite stored in one trace (none yet: empty).
    pub fn trace(&self, trace_id: &str) -> Vec<Value> {
        match http_get_with(self.otelite_api, &format!("/api/traces/{trace_id}"), &[]) {
            Ok((200, body)) => serde_json::from_str::<Value>(&body)
                .map(|d| d["spans"].as_array().cloned().unwrap_or_default())
                .unwrap_or_default(),
            Ok((404, _)) => Vec::new(),
            other => panic!("GET /api/traces/{trace_id}: {other:?}"),
        }
    }

    /// Every event Bugsink stored whose environment is `environment` (the event JSON, `data`).
    pub fn events_in(&self, environment: &str) -> Vec<Value> {
        let token = self.bugsink_token.clone();
        let issues = self.get_json(
            self.bugsink,
            &format!("/api/canonical/0/issues/?project={}", self.bugsink_project),
            Some(&token),
        );
        let mut events = Vec::new();
        for issue in issues["results"].as_array().into_iter().flatten() {
            let id = issue["id"].as_str().unwrap_or_default();
            let list = self.get_json(
                self.bugsink,
                &format!("/api/canonical/0/events/?issue={id}"),
                Some(&token),
            );
            for event in list["results"].as_array().into_iter().flatten() {
                let eid = event["id"].as_str().unwrap_or_default();
                let full = self.get_json(
                    self.bugsink,
                    &format!("/api/canonical/0/events/{eid}/"),
                    Some(&token),
                );
                if full["data"]["environment"] == environment {
                    events.push(full["data"].clone());
                }
            }
        }
        events
    }
}

/// A name unique to this test run, for separating what several tests sent to shared backends.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Polls `check` (every 100 ms, up to `timeout`) until it returns `Some`.
pub fn eventually<T>(timeout: Duration, check: impl FnMut() -> Option<T>) -> Option<T> {
    crate::harness::wait_until(timeout, check)
}
