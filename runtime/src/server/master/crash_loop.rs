//! Crash-loop protection, the master's bookkeeping: a worker that dies soon after its fork is an
//! early death; the first is replaced at once (one crash is not a loop), each further one in a
//! row waits longer before its replacement, and past the limit the master stops. A worker forked
//! after the last early death that lives past the window ends the run of early deaths. Pure:
//! every decision takes the time as an argument.

use crate::server::settings::Settings;
use std::time::{Duration, Instant};

/// What to do about a worker that died on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Death {
    /// It had lived past the window: replace it at once.
    Late,
    /// An early death, the `in_a_row`th: replace it after `wait` (zero for the first).
    Early { in_a_row: u32, wait: Duration },
    /// Early deaths reached the limit: stop the master.
    Loop { in_a_row: u32 },
}

#[derive(Debug, Default)]
pub(crate) struct CrashLoop {
    early_deaths: u32,
    last_early_death: Option<Instant>,
    respawn_at: Option<Instant>,
}

impl CrashLoop {
    /// A worker that lived `lived` died on its own at `now`.
    pub(crate) fn died(&mut self, settings: &Settings, lived: Duration, now: Instant) -> Death {
        if lived >= settings.crash_window {
            self.early_deaths = 0;
            self.last_early_death = None;
            return Death::Late;
        }
        self.early_deaths = self.early_deaths.saturating_add(1);
        self.last_early_death = Some(now);
        let in_a_row = self.early_deaths;
        if settings.crash_loop_limit > 0 && in_a_row >= settings.crash_loop_limit {
            return Death::Loop { in_a_row };
        }
        let wait = settings.crash_backoff(in_a_row);
        if !wait.is_zero() {
            self.respawn_at = Some(now + wait);
        }
        Death::Early { in_a_row, wait }
    }

    /// Whether replacements may be forked at `now`, given when the live workers were forked: a
    /// worker forked after the last early death that has lived past the window ends the run.
    pub(crate) fn may_spawn(
        &mut self,
        settings: &Settings,
        mut births: impl Iterator<Item = Instant>,
        now: Instant,
    ) -> bool {
        if let Some(last) = self.last_early_death {
            if births.any(|born| born > last && now.duration_since(born) >= settings.crash_window) {
                self.early_deaths = 0;
                self.last_early_death = None;
            }
        }
        match self.respawn_at {
            Some(at) if now < at => false,
            _ => {
                self.respawn_at = None;
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(limit: u32) -> Settings {
        let env = crate::config::Env::from_pairs([
            ("FORKLINE_CRASH_WINDOW_MS", "10000".to_string()),
            ("FORKLINE_CRASH_BACKOFF_CAP_MS", "500".to_string()),
            ("FORKLINE_CRASH_LOOP_LIMIT", limit.to_string()),
            ("OTEL_TRACES_EXPORTER", "none".to_string()),
            ("SENTRY_DSN", String::new()),
        ]);
        crate::Server::with_env(env).expect("settings").settings
    }

    #[test]
    fn early_deaths_wait_longer_each_time_up_to_the_cap_then_stop_the_master() {
        let s = settings(7);
        let mut c = CrashLoop::default();
        let t0 = Instant::now();
        let early = Duration::from_millis(50);
        let mut waits = Vec::new();
        for i in 0..6 {
            let now = t0 + Duration::from_secs(i);
            match c.died(&s, early, now) {
                Death::Early { in_a_row, wait } => {
                    assert_eq!(in_a_row, i as u32 + 1);
                    waits.push(wait.as_millis());
                    assert_eq!(c.may_spawn(&s, std::iter::empty(), now), wait.is_zero());
                    assert!(c.may_spawn(&s, std::iter::empty(), now + wait));
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(waits, [0, 100, 200, 400, 500, 500]);
        assert_eq!(
            c.died(&s, early, t0 + Duration::from_secs(7)),
            Death::Loop { in_a_row: 7 }
        );
    }

    #[test]
    fn a_late_death_or_a_survivor_ends_the_run_and_no_limit_never_stops() {
        let s = settings(3);
        let mut c = CrashLoop::default();
        let t0 = Instant::now();
        let early = Duration::from_millis(50);
        c.died(&s, early, t0);
        c.died(&s, early, t0);
        assert_eq!(c.died(&s, Duration::from_secs(11), t0), Death::Late);
        assert!(matches!(
            c.died(&s, early, t0),
            Death::Early { in_a_row: 1, .. }
        ));
        // A worker forked after that death, alive for the whole window: the run is over.
        let born = t0 + Duration::from_millis(1);
        assert!(c.may_spawn(&s, [born].into_iter(), born + Duration::from_secs(10)));
        assert!(matches!(
            c.died(&s, early, t0),
            Death::Early { in_a_row: 1, .. }
        ));

        let s = settings(0);
        let mut c = CrashLoop::default();
        for _ in 0..50 {
            assert!(matches!(c.died(&s, early, t0), Death::Early { .. }));
        }
    }
}
