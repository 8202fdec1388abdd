// Arguments are optional: the defaults come from the environment, the profile and the crate.
#[forkline::post_fork]
fn otel() {}

#[forkline::worker_init(sentry)]
fn init(_worker: &forkline::Worker) {}

#[forkline::worker_exit]
fn bye() {}

fn main() {
    let server = forkline::Server::from_env().expect("default configuration is valid");
    let config = server.telemetry_config().expect("resolves");
    // The release names the crate that wrote the hooks, not forkline.
    let expected = concat!(env!("CARGO_PKG_NAME"), "@", env!("CARGO_PKG_VERSION"));
    assert_eq!(config.sentry.release.as_deref(), Some(expected));
    assert!(!expected.starts_with("forkline@"));
    assert_eq!(config.otel.service_name, env!("CARGO_PKG_NAME"));
}
