//! Gunicorn's `--check-config`: `FORKLINE_CHECK_CONFIG=1` makes the service's own binary resolve
//! everything a start would, print it with its secrets hidden, and exit 0 without binding or
//! forking; a bad setting exits 1 with the error.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");

fn check(env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let dir = std::env::temp_dir().join(format!("forkline-check-{}", std::process::id()));
    let mut command = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_") || k.starts_with("SENTRY_") || k.starts_with("FORKLINE_") {
            command.env_remove(k);
        }
    }
    let out = command
        .env("FORKLINE_CHECK_CONFIG", "1")
        .env("FORKLINE_DIR", &dir)
        .env("FORKLINE_TEST_LOG", dir.join("hooks.log"))
        .envs(env.iter().copied())
        .output()
        .expect("run the fixture");
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_describes_the_resolved_setup_with_secrets_hidden_and_starts_nothing() {
    let (code, stdout, stderr) = check(&[
        ("FORKLINE_WORKERS", "3"),
        ("FORKLINE_TIMEOUT_MS", "5000"),
        ("FORKLINE_RELOAD_ON_RSS_MB", "512"),
        ("SENTRY_DSN", "http://topsecretkey@127.0.0.1:9/42"),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://user:hunter2@127.0.0.1:4318",
        ),
        ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer s3cr3t"),
    ]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    for expected in [
        "bind",
        "127.0.0.1:0",
        "workers                      3",
        "timeout                      5000 ms",
        "reload_on_rss                512 MiB",
        "127.0.0.1:9/42 (key hidden)",
        "authorization",
    ] {
        assert!(stdout.contains(expected), "{expected:?} in:\n{stdout}");
    }
    for secret in ["topsecretkey", "hunter2", "s3cr3t"] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} shown:\n{stdout}\n{stderr}"
        );
    }
    assert!(!stderr.contains("booted"), "no worker started:\n{stderr}");
}

#[test]
fn check_config_exits_1_with_the_error_of_a_bad_setting() {
    let (code, stdout, stderr) = check(&[("FORKLINE_TIMEOUT_MS", "soon")]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("FORKLINE_TIMEOUT_MS"), "{stderr}");
}
