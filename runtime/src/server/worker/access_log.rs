//! Gunicorn's access log for `serve_axum`: one line per answered request, to stderr or a file,
//! in Gunicorn's default format or one made of its atoms, plus the request's trace and span ids
//! (`%(trace_id)s`, `%(span_id)s`, when `TelemetryLayer` made a span). Off by default.
//!
//! Each line is one `write(2)` with `O_APPEND` (a file every worker shares stays whole line by
//! line); USR1 to a worker (or to the master, which passes it on) reopens the file, for
//! logrotate. The line is formatted when the response is ready, from what the request kept:
//! nothing is formatted for a server without an access log.

// Only `serve_axum` writes lines; without it the log is configured but never written.
#![cfg_attr(not(feature = "axum"), allow(dead_code))]

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// Gunicorn's `access_log_format` default.
pub(crate) const DEFAULT_FORMAT: &str =
    r#"%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s""#;

/// The atoms a format may use: Gunicorn's, and the trace's.
const ATOMS: &[&str] = &[
    "h", "l", "u", "t", "r", "m", "U", "q", "H", "s", "B", "b", "f", "a", "T", "M", "D", "L", "p",
    "trace_id", "span_id",
];

impl Target {
    /// `-` for stderr, else a file's path.
    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "-" => Self::Stderr,
            path => Self::File(PathBuf::from(path)),
        }
    }
}

/// Where the lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// `-`: the worker's stderr.
    Stderr,
    /// A file, appended to.
    File(PathBuf),
}

/// A format, parsed once: literal text and atoms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Format(Vec<Part>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Atom(String),
}

impl Default for Format {
    fn default() -> Self {
        // The default parses, checked by a test.
        Self::parse(DEFAULT_FORMAT).unwrap_or(Self(Vec::new()))
    }
}

impl Format {
    /// `%(name)s` atoms among literal text; an unknown atom is an error naming it.
    pub(crate) fn parse(format: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = format;
        while let Some(start) = rest.find("%(") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find(")s")
                .ok_or_else(|| format!("an atom is not closed with `)s` in {format:?}"))?;
            let name = &after[..end];
            if !ATOMS.contains(&name) {
                return Err(format!(
                    "unknown atom %({name})s; known: {}",
                    ATOMS.join(", ")
                ));
            }
            parts.push(Part::Atom(name.to_string()));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Self(parts))
    }
}

/// What one request leaves for its line.
#[derive(Debug)]
pub(crate) struct Request {
    /// `None`: a Unix socket peer that forwarded no address (logged as `-`).
    pub(crate) client: Option<std::net::IpAddr>,
    pub(crate) method: String,
    /// The path and query.
    pub(crate) target: String,
    /// `HTTP/1.1`.
    pub(crate) version: &'static str,
    pub(crate) referer: Option<String>,
    pub(crate) agent: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) started: Instant,
    pub(crate) at: SystemTime,
}

/// What the answer adds.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// `Content-Length`, when the response has one.
    pub(crate) length: Option<u64>,
    pub(crate) trace: Option<(String, String)>,
}

/// A worker's access log.
#[derive(Debug)]
pub(crate) struct AccessLog {
    target: Target,
    format: Format,
    file: Mutex<Option<std::fs::File>>,
}

impl AccessLog {
    pub(crate) fn new(target: Target, format: Format) -> std::io::Result<Self> {
        let log = Self {
            target,
            format,
            file: Mutex::new(None),
        };
        log.reopen()?;
        Ok(log)
    }

    /// Opens the file again (after logrotate moved it).
    pub(crate) fn reopen(&self) -> std::io::Result<()> {
        if let Target::File(path) = &self.target {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            if let Ok(mut slot) = self.file.lock() {
                *slot = Some(file);
            }
        }
        Ok(())
    }

    /// Writes the line of one request.
    pub(crate) fn write(&self, request: &Request, answer: &Answer) {
        let mut line = self.line(request, answer);
        line.push('\n');
        match &self.target {
            Target::Stderr => {
                let mut rest = line.as_bytes();
                while !rest.is_empty() {
                    // SAFETY: writes from a valid buffer to fd 2.
                    let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
                    if n <= 0 {
                        return;
                    }
                    rest = &rest[n as usize..];
                }
            }
            Target::File(_) => {
                if let Ok(mut file) = self.file.lock() {
                    if let Some(file) = file.as_mut() {
                        let _ = file.write_all(line.as_bytes());
                    }
                }
            }
        }
    }

    fn line(&self, request: &Request, answer: &Answer) -> String {
        let took = request.started.elapsed();
        let mut out = String::with_capacity(160);
        for part in &self.format.0 {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Atom(atom) => atom_value(&mut out, atom, request, answer, took),
            }
        }
        out
    }
}

fn atom_value(out: &mut String, atom: &str, request: &Request, answer: &Answer, took: Duration) {
    let dash = |v: Option<&str>| v.filter(|v| !v.is_empty()).unwrap_or("-").to_string();
    let version = request.version;
    let path_and_query = request.target.as_str();
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let _ = match atom {
        "h" => match request.client {
            Some(ip) => write!(out, "{ip}"),
            None => out.write_str("-"),
        },
        "l" => write!(out, "-"),
        "u" => write!(out, "{}", dash(request.user.as_deref())),
        "t" => {
            out.push('[');
            clf_time(out, request.at);
            out.push(']');
            Ok(())
        }
        "r" => write!(out, "{} {path_and_query} {version}", request.method),
        "m" => write!(out, "{}", request.method),
        "U" => write!(out, "{path}"),
        "q" => write!(out, "{query}"),
        "H" => write!(out, "{version}"),
        "s" => write!(out, "{}", answer.status),
        "B" => write!(out, "{}", answer.length.unwrap_or(0)),
        "b" => write!(
            out,
            "{}",
            answer.length.map_or("-".into(), |l| l.to_string())
        ),
        "f" => write!(out, "{}", dash(request.referer.as_deref())),
        "a" => write!(out, "{}", dash(request.agent.as_deref())),
        "T" => write!(out, "{}", took.as_secs()),
        "M" => write!(out, "{}", took.as_millis()),
        "D" => write!(out, "{}", took.as_micros()),
        "L" => write!(out, "{:.6}", took.as_secs_f64()),
        "p" => write!(out, "<{}>", std::process::id()),
        "trace_id" => write!(out, "{}", dash(answer.trace.as_ref().map(|t| t.0.as_str()))),
        "span_id" => write!(out, "{}", dash(answer.trace.as_ref().map(|t| t.1.as_str()))),
        _ => Ok(()),
    };
}

/// The version as the request line spells it.
#[cfg(feature = "axum")]
pub(crate) fn version_of(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    }
}

/// Appends the Common Log Format's time, in UTC: `07/Dec/2026:10:15:02 +0000`, formatted once a
/// second per thread.
fn clf_time(out: &mut String, at: SystemTime) {
    thread_local! {
        static LAST: std::cell::RefCell<(u64, String)> = const {
            std::cell::RefCell::new((u64::MAX, String::new()))
        };
    }
    let second = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let written = LAST.try_with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != second {
            *last = (second, clf_of(at));
        }
        out.push_str(&last.1);
    });
    if written.is_err() {
        out.push_str(&clf_of(at));
    }
}

fn clf_of(at: SystemTime) -> String {
    // RFC 7231's date (`Mon, 07 Dec 2026 10:15:02 GMT`) has every field the CLF needs.
    let http = httpdate::fmt_http_date(at);
    let fields: Vec<&str> = http.split([' ', ',']).filter(|f| !f.is_empty()).collect();
    match fields.as_slice() {
        [_, day, month, year, time, _] => format!("{day}/{month}/{year}:{time} +0000"),
        _ => http,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        Request {
            client: Some("203.0.113.7".parse().expect("ip")),
            method: "POST".into(),
            target: "/orders/42?x=1".into(),
            version: "HTTP/1.1",
            referer: None,
            agent: Some("curl/8".into()),
            user: None,
            started: Instant::now(),
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_637_302),
        }
    }

    #[test]
    fn gunicorns_default_format_and_the_trace_atoms() {
        let log = AccessLog {
            target: Target::Stderr,
            format: Format::parse(DEFAULT_FORMAT).expect("default"),
            file: Mutex::new(None),
        };
        let answer = Answer {
            status: 201,
            length: Some(17),
            trace: None,
        };
        assert_eq!(
            log.line(&request(), &answer),
            r#"203.0.113.7 - - [07/Dec/2026:09:55:02 +0000] "POST /orders/42?x=1 HTTP/1.1" 201 17 "-" "curl/8""#
        );
        let traced = AccessLog {
            format: Format::parse("%(s)s %(b)s %(trace_id)s/%(span_id)s %(U)s").expect("format"),
            ..log
        };
        let answer = Answer {
            status: 200,
            length: None,
            trace: Some(("abc".into(), "def".into())),
        };
        assert_eq!(traced.line(&request(), &answer), "200 - abc/def /orders/42");
    }

    #[test]
    fn a_bad_format_names_the_atom() {
        let err = Format::parse("%(h)s %(nope)s").expect_err("unknown atom");
        assert!(err.contains("%(nope)s"), "{err}");
        assert!(Format::parse("%(h").is_err());
    }
}
