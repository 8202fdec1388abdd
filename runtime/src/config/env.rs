//! A snapshot of the environment and typed readers whose errors name the variable.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::time::Duration;

/// Variables whose values are secret: errors about them never repeat the value.
const SECRET: &[&str] = &[
    "SENTRY_DSN",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
];

/// The environment as read once, in the master, before any fork.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The current process's environment.
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment made of these pairs (for tests and embedding).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value, with surrounding blanks removed; unset and blank read as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Set, even if blank (`SENTRY_DSN=""` means "off").
    pub(crate) fn is_set(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }

    pub(crate) fn invalid(&self, name: &str, expected: &str) -> Error {
        let shown = if SECRET.contains(&name) {
            "(value not shown: it is secret)".to_string()
        } else {
            format!(
                "{:?}",
                self.vars.get(name).map(String::as_str).unwrap_or("")
            )
        };
        Error::config(name, format!("{expected}; got {shown}"))
    }

    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>> {
        self.get(name)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(self.invalid(name, "expected true or false")),
            })
            .transpose()
    }

    pub(crate) fn positive_u64(&self, name: &str) -> Result<Option<u64>> {
        self.get(name)
            .map(|v| match v.parse::<u64>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(self.invalid(name, "expected a whole number greater than 0")),
            })
            .transpose()
    }

    pub(crate) fn u64(&self, name: &str) -> Result<Option<u64>> {
        self.get(name)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| self.invalid(name, "expected a whole number (0 or more)"))
            })
            .transpose()
    }

    pub(crate) fn positive_usize(&self, name: &str) -> Result<Option<usize>> {
        Ok(self
            .positive_u64(name)?
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)))
    }

    pub(crate) fn millis(&self, name: &str) -> Result<Option<Duration>> {
        Ok(self.positive_u64(name)?.map(Duration::from_millis))
    }

    pub(crate) fn probability(&self, name: &str) -> Result<Option<f64>> {
        self.get(name)
            .map(|v| match v.parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
                _ => Err(self.invalid(name, "expected a number between 0 and 1")),
            })
            .transpose()
    }

    /// A `key=value,key=value` list (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS), with
    /// percent-encoded values decoded as the OTel specification says.
    pub(crate) fn key_values(&self, name: &str) -> Result<Vec<(String, String)>> {
        let Some(raw) = self.get(name) else {
            return Ok(Vec::new());
        };
        raw.split(',')
            .filter(|entry| !entry.trim().is_empty())
            .map(|entry| {
                let (k, v) = entry.split_once('=').ok_or_else(|| {
                    self.invalid(name, "expected key=value pairs separated by commas")
                })?;
                let key = k.trim();
                if key.is_empty() {
                    return Err(self.invalid(name, "a key=value pair has an empty key"));
                }
                let value = percent_decode(v.trim())
                    .ok_or_else(|| self.invalid(name, "a value has a malformed %-escape"))?;
                Ok((key.to_string(), value))
            })
            .collect()
    }
}

/// Decodes `%XX` escapes; `None` for an escape that is not two hex digits (the crate would pass
/// it through, but a malformed value is an error the user should see) or for invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let escapes_ok = s.match_indices('%').all(|(i, _)| {
        s.get(i + 1..i + 3)
            .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
    });
    if !escapes_ok {
        return None;
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_readers_name_the_variable() {
        let env = Env::from_pairs([
            ("A", "12"),
            ("B", "abc"),
            ("C", " "),
            ("D", "0.5"),
            ("E", "1.5"),
            ("SENTRY_DSN", "secret-thing"),
        ]);
        assert_eq!(env.positive_u64("A").ok().flatten(), Some(12));
        let err = env
            .positive_u64("B")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("B") && err.contains("\"abc\""), "{err}");
        assert_eq!(env.positive_u64("C").ok().flatten(), None);
        assert_eq!(env.probability("D").ok().flatten(), Some(0.5));
        assert!(env.probability("E").is_err());
        let secret = env
            .bool("SENTRY_DSN")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!secret.contains("secret-thing"), "{secret}");
    }

    #[test]
    fn key_values_decode_percent_escapes() {
        let env = Env::from_pairs([
            ("R", "a=b%2Cc, d = e "),
            ("BAD", "novalue"),
            ("BAD2", "a=%zz"),
        ]);
        assert_eq!(
            env.key_values("R").ok(),
            Some(vec![("a".into(), "b,c".into()), ("d".into(), "e".into())])
        );
        assert!(env.key_values("BAD").is_err());
        assert!(env.key_values("BAD2").is_err());
    }
}
