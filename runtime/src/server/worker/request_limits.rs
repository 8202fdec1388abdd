//! Gunicorn's request limits, enforced by `serve_axum` before a request reaches the app:
//! `limit_request_line` (default 4094 bytes), `limit_request_fields` (100) and
//! `limit_request_field_size` (8190 bytes; 0 turns a limit off). A request over one is answered
//! 414, 431 or 400 (nginx's answers to a long request line and to a large header field, and RFC
//! 6585's to too many fields) and its connection closed; the worker goes on. The fields limit
//! is the HTTP parser's own (hyper's `max_headers`), so a request with too many fields is never
//! read whole; the line and the field sizes are measured on the parsed request.

/// Gunicorn's defaults.
pub(crate) const DEFAULT_LINE: usize = 4094;
pub(crate) const DEFAULT_FIELDS: usize = 100;
pub(crate) const DEFAULT_FIELD_SIZE: usize = 8190;
/// Gunicorn's most fields, and what `limit_request_fields = 0` means.
pub(crate) const MAX_FIELDS: usize = 32768;

/// The limits in force (`None`: off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) line: Option<usize>,
    pub(crate) fields: usize,
    pub(crate) field_size: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            line: Some(DEFAULT_LINE),
            fields: DEFAULT_FIELDS,
            field_size: Some(DEFAULT_FIELD_SIZE),
        }
    }
}

/// Why a request was refused before the app saw it.
#[cfg(feature = "axum")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Its request line (method, target, version) is longer than `limit_request_line`.
    Line { length: usize, limit: usize },
    /// It has more header fields than `limit_request_fields` (seen by the parser).
    Fields { limit: usize },
    /// A header field (`Name: value`) is longer than `limit_request_field_size`.
    FieldSize { length: usize, limit: usize },
    /// The parser found more header fields than `limit_request_fields`, or a head larger
    /// than its buffer (hyper does not say which).
    TooLarge,
    /// The parser could not read it as HTTP.
    Malformed,
}

#[cfg(feature = "axum")]
impl Refused {
    pub(crate) fn status(self) -> u16 {
        match self {
            Self::Line { .. } => 414,
            Self::Fields { .. } | Self::TooLarge => 431,
            Self::FieldSize { .. } | Self::Malformed => 400,
        }
    }

    /// The span's and the duration metric's `error.type`.
    pub(crate) fn error_type(self) -> &'static str {
        match self {
            Self::Line { .. } => "limit_request_line",
            Self::Fields { .. } => "limit_request_fields",
            Self::FieldSize { .. } => "limit_request_field_size",
            Self::TooLarge => "request_header_fields_too_large",
            Self::Malformed => "malformed_request",
        }
    }

    /// The answer's body: what was over which limit, never the request's own bytes.
    pub(crate) fn message(self) -> String {
        match self {
            Self::Line { length, limit } => format!(
                "the request line is {length} bytes, over the limit of {limit} (limit_request_line)\n"
            ),
            Self::Fields { limit } => format!(
                "the request has more than {limit} header fields (limit_request_fields)\n"
            ),
            Self::FieldSize { length, limit } => format!(
                "a header field is {length} bytes, over the limit of {limit} \
                 (limit_request_field_size)\n"
            ),
            Self::TooLarge => "the request's header fields are too many (limit_request_fields) or \
                               too large\n"
                .into(),
            Self::Malformed => "the request is not valid HTTP\n".into(),
        }
    }

    /// What the HTTP parser's error on a connection means, if it refused a request; `None`
    /// for the rest (a client that went away, a connection reset).
    pub(crate) fn of_parse_error(error: &hyper::Error, limits: &Limits) -> Option<Self> {
        if error.is_parse_too_large() {
            // hyper says "too large" both for a head it refused ("message head is too large":
            // too many fields, or over its buffer) and for a target over 64 KiB ("request URI
            // too long"); only its message tells them apart.
            let text = error.to_string();
            return Some(if text.contains("URI") {
                Self::Line {
                    length: u16::MAX as usize,
                    limit: limits.line.unwrap_or(u16::MAX as usize - 1),
                }
            } else {
                Self::TooLarge
            });
        }
        error.is_parse().then_some(Self::Malformed)
    }
}

impl Limits {
    /// The parser's most header fields (hyper's `max_headers`): over it, hyper answers 431
    /// itself.
    pub(crate) fn parser_fields(&self) -> usize {
        if self.fields == 0 {
            MAX_FIELDS
        } else {
            self.fields.min(MAX_FIELDS)
        }
    }

    /// What limit `request` is over, if any.
    #[cfg(feature = "axum")]
    pub(crate) fn check<B>(&self, request: &http::Request<B>) -> Option<Refused> {
        if let Some(limit) = self.line {
            let length = request_line_length(request);
            if length > limit {
                return Some(Refused::Line { length, limit });
            }
        }
        let fields = request.headers().len();
        if fields > self.parser_fields() {
            return Some(Refused::Fields {
                limit: self.parser_fields(),
            });
        }
        if let Some(limit) = self.field_size {
            // `Name: value`, as the line was sent.
            let longest = request
                .headers()
                .iter()
                .map(|(name, value)| name.as_str().len() + 2 + value.len())
                .max()
                .unwrap_or(0);
            if longest > limit {
                return Some(Refused::FieldSize {
                    length: longest,
                    limit,
                });
            }
        }
        None
    }
}

/// `METHOD TARGET HTTP/1.1`, without its line end.
#[cfg(feature = "axum")]
fn request_line_length<B>(request: &http::Request<B>) -> usize {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(1, |p| p.as_str().len())
        + uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len());
    request.method().as_str().len() + 1 + target + 1 + "HTTP/1.1".len()
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "axum")]
    use super::*;

    #[cfg(feature = "axum")]
    fn request(target: &str, headers: &[(&str, String)]) -> http::Request<()> {
        let mut builder = http::Request::get(target);
        for (name, value) in headers {
            builder = builder.header(*name, value.as_str());
        }
        builder.body(()).expect("request")
    }

    #[test]
    #[cfg(feature = "axum")]
    fn each_limit_is_measured_as_gunicorn_measures_it() {
        let limits = Limits::default();
        // "GET /aaa… HTTP/1.1" is 4094 bytes exactly: allowed; one more is not.
        let at = format!("/{}", "a".repeat(DEFAULT_LINE - 14));
        assert_eq!(request_line_length(&request(&at, &[])), DEFAULT_LINE);
        assert_eq!(limits.check(&request(&at, &[])), None);
        let over = format!("{at}a");
        assert_eq!(
            limits.check(&request(&over, &[])),
            Some(Refused::Line {
                length: DEFAULT_LINE + 1,
                limit: DEFAULT_LINE
            })
        );
        // "X-Big: vvv…" is 8190 bytes exactly: allowed; one more is not.
        let value = "v".repeat(DEFAULT_FIELD_SIZE - 7);
        assert_eq!(
            limits.check(&request("/", &[("x-big", value.clone())])),
            None
        );
        let over = request("/", &[("x-big", format!("{value}v"))]);
        assert_eq!(
            limits.check(&over).map(Refused::status),
            Some(400),
            "{:?}",
            limits.check(&over)
        );
        let many: Vec<_> = (0..=DEFAULT_FIELDS)
            .map(|i| ("x-n", i.to_string()))
            .collect();
        assert_eq!(
            limits.check(&request("/", &many)),
            Some(Refused::Fields {
                limit: DEFAULT_FIELDS
            })
        );
        assert_eq!(limits.check(&request("/", &many[1..])), None);
    }

    #[test]
    #[cfg(feature = "axum")]
    fn zero_turns_a_limit_off() {
        let off = Limits {
            line: None,
            fields: 0,
            field_size: None,
        };
        let long = format!("/{}", "a".repeat(60_000));
        let big = "v".repeat(100_000);
        assert_eq!(off.check(&request(&long, &[("x-big", big)])), None);
        assert_eq!(off.parser_fields(), MAX_FIELDS);
    }

    #[test]
    #[cfg(feature = "axum")]
    fn each_refusal_has_its_status_and_says_which_limit() {
        for (refused, status, limit) in [
            (
                Refused::Line {
                    length: 5000,
                    limit: 4094,
                },
                414,
                "limit_request_line",
            ),
            (Refused::Fields { limit: 100 }, 431, "limit_request_fields"),
            (
                Refused::FieldSize {
                    length: 9000,
                    limit: 8190,
                },
                400,
                "limit_request_field_size",
            ),
        ] {
            assert_eq!(refused.status(), status);
            assert_eq!(refused.error_type(), limit);
            assert!(refused.message().contains(limit), "{}", refused.message());
        }
    }
}
