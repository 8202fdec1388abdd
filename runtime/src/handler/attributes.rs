//! What can become span attributes ([`SpanAttributes`]): single values, lists, options, and
//! structs of them (usually derived). `#[forkline::handler]` records its arguments through it,
//! so a type that cannot be an attribute is a compile error naming the trait.

use opentelemetry::{Array, Key, KeyValue, StringValue, Value};
use std::borrow::Cow;
use std::sync::atomic::{AtomicPtr, Ordering};

/// The longest string attribute value kept, in bytes: longer values are cut at a character
/// boundary and counted (`Stats::attribute_values_truncated`), so a hostile input cannot make
/// every span it touches megabytes long.
pub const MAX_VALUE_BYTES: usize = 4096;

/// Under which key a value is recorded. Static keys cost no allocation.
#[derive(Debug, Clone)]
pub enum AttributeKey {
    /// A handler argument's name: a single value is recorded under it; a derived struct uses
    /// its own keys.
    Argument(&'static str),
    /// A field's key inside a derived struct: a single value is recorded under it; a nested
    /// struct prefixes its own keys with it.
    Field(&'static str),
    /// A key made at run time (a field of a struct nested in a struct).
    Joined(String),
}

impl AttributeKey {
    /// The key a single value is recorded under.
    #[inline]
    pub fn key(self) -> Key {
        match self {
            Self::Argument(k) | Self::Field(k) => Key::from_static_str(k),
            Self::Joined(k) => Key::from(k),
        }
    }

    /// The prefix a struct's keys get: none for an argument, the field's key for a field.
    pub fn prefix(&self) -> Option<&str> {
        match self {
            Self::Argument(_) => None,
            Self::Field(k) => Some(k),
            Self::Joined(k) => Some(k),
        }
    }

    /// `prefix.key`, or `key` without a prefix.
    pub fn join(&self, key: &str) -> String {
        match self.prefix() {
            Some(prefix) => {
                let mut joined = String::with_capacity(prefix.len() + 1 + key.len());
                joined.push_str(prefix);
                joined.push('.');
                joined.push_str(key);
                joined
            }
            None => key.to_string(),
        }
    }
}

/// The keys of a derived struct's `N` fields joined to a prefix it is nested under, made once
/// per prefix and kept for the program's life, so that they are static keys after (joining
/// allocated a string per field and call: the nested struct cost twice the flat one). A few
/// prefixes are kept per struct (a struct is nested under one or two names in practice); past
/// them, keys are joined per call, as before, so nothing grows without bound: at most
/// four sets of keys per derived struct in the program.
#[derive(Debug)]
pub struct JoinedKeys<const N: usize> {
    slots: [AtomicPtr<Joined<N>>; JOINED_PREFIXES],
}

/// How many prefixes a struct's `JoinedKeys` keeps.
const JOINED_PREFIXES: usize = 4;

#[derive(Debug)]
struct Joined<const N: usize> {
    prefix: Box<str>,
    /// Where the prefix it was made for lived: a static prefix is met at the same address each
    /// time, which spares comparing its bytes.
    seen_at: usize,
    keys: [&'static str; N],
}

impl<const N: usize> JoinedKeys<N> {
    /// An empty cache, for a `static`.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self {
            slots: [const { AtomicPtr::new(std::ptr::null_mut()) }; JOINED_PREFIXES],
        }
    }

    /// The struct's keys (`keys`, in field order) joined to `at`'s prefix; `None` without a
    /// prefix, or past the prefixes kept (then the caller joins them for this call).
    #[inline]
    pub fn joined(
        &self,
        at: &AttributeKey,
        keys: [&'static str; N],
    ) -> Option<&'static [&'static str; N]> {
        // The common case, inline: nested under the one static prefix seen first.
        if let AttributeKey::Field(prefix) = at {
            // SAFETY: a non-null slot holds an entry leaked by `find`, never freed.
            if let Some(entry) = unsafe { self.slots[0].load(Ordering::Acquire).as_ref() } {
                if entry.seen_at == prefix.as_ptr() as usize && entry.prefix.len() == prefix.len() {
                    return Some(&entry.keys);
                }
            }
        }
        self.find(at, keys)
    }

    #[inline(never)]
    fn find(
        &self,
        at: &AttributeKey,
        keys: [&'static str; N],
    ) -> Option<&'static [&'static str; N]> {
        let prefix = at.prefix()?;
        for slot in &self.slots {
            let mut entry = slot.load(Ordering::Acquire);
            if entry.is_null() {
                let made = Box::into_raw(Box::new(Joined {
                    prefix: prefix.into(),
                    seen_at: prefix.as_ptr() as usize,
                    keys: keys.map(|key| &*Box::leak(at.join(key).into_boxed_str())),
                }));
                entry = match slot.compare_exchange(
                    std::ptr::null_mut(),
                    made,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => made,
                    Err(taken) => {
                        // SAFETY: `made` was never shared: another thread filled the slot first
                        // (its keys stay leaked: a few bytes, once).
                        drop(unsafe { Box::from_raw(made) });
                        taken
                    }
                };
            }
            // SAFETY: a non-null slot holds an entry leaked above, never freed.
            let entry: &'static Joined<N> = unsafe { &*entry };
            // Only a static prefix (a field's key) is known by its address: a string made at
            // run time may come back at the address of a freed one, with other bytes.
            let same_place = matches!(at, AttributeKey::Field(_))
                && entry.seen_at == prefix.as_ptr() as usize
                && entry.prefix.len() == prefix.len();
            if same_place || *entry.prefix == *prefix {
                return Some(&entry.keys);
            }
        }
        None
    }
}

/// Something recorded as span attributes. Derive it for request and command structs with
/// `#[derive(forkline::SpanAttributes)]`; strings, numbers, booleans, lists, options,
/// references and boxes of them are already. For a type that is one value, implement it by
/// pushing one `KeyValue` under `key.key()`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be recorded as span attributes",
    label = "not recordable as span attributes",
    note = "derive `forkline::SpanAttributes` for a struct of recordable fields, or implement it \
            for a single value (push one `KeyValue` under `key.key()`); or leave the value out: \
            `skip(name)` in #[forkline::handler(...)], `#[span(skip)]` on a field"
)]
pub trait SpanAttributes {
    /// Appends this value's attributes to `out`.
    fn record(&self, key: AttributeKey, out: &mut Vec<KeyValue>);
}

/// One attribute value: what lists (`Vec`, slices) are made of.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an element of a span attribute list",
    note = "list attributes hold strings, integers, floats or booleans"
)]
pub trait SpanValue {
    /// The value.
    fn span_value(&self) -> Value;
}

#[inline]
fn push(key: AttributeKey, value: Value, out: &mut Vec<KeyValue>) {
    out.push(KeyValue::new(key.key(), value));
}

/// A `&'static str` value: kept as it is, without a copy, when within [`MAX_VALUE_BYTES`]
/// (what the generated code uses for string literals and `&'static str` fields).
#[inline]
pub fn record_static(value: &'static str, key: AttributeKey, out: &mut Vec<KeyValue>) {
    let value = if value.len() <= MAX_VALUE_BYTES {
        StringValue::from(value)
    } else {
        bounded(value)
    };
    push(key, Value::String(value), out);
}

/// A string value within [`MAX_VALUE_BYTES`].
pub(crate) fn bounded(s: &str) -> StringValue {
    if s.len() <= MAX_VALUE_BYTES {
        return StringValue::from(s.to_string());
    }
    let mut end = MAX_VALUE_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    crate::stats::ProcessCounters::add(&crate::stats::counters().attribute_values_truncated, 1);
    StringValue::from(s[..end].to_string())
}

macro_rules! integer {
    ($($t:ty),*) => {$(
        impl SpanValue for $t {
            #[inline]
            fn span_value(&self) -> Value {
                // Beyond i64 (OTel's integer), the exact digits as a string rather than a wrap.
                match i64::try_from(*self) {
                    Ok(v) => Value::I64(v),
                    Err(_) => Value::String(self.to_string().into()),
                }
            }
        }
    )*};
}
integer!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, i128, u128);

impl SpanValue for f64 {
    fn span_value(&self) -> Value {
        Value::F64(*self)
    }
}

impl SpanValue for f32 {
    fn span_value(&self) -> Value {
        Value::F64(f64::from(*self))
    }
}

impl SpanValue for bool {
    fn span_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl SpanValue for str {
    fn span_value(&self) -> Value {
        Value::String(bounded(self))
    }
}

impl SpanValue for String {
    fn span_value(&self) -> Value {
        self.as_str().span_value()
    }
}

impl SpanValue for Cow<'_, str> {
    fn span_value(&self) -> Value {
        self.as_ref().span_value()
    }
}

impl SpanValue for char {
    fn span_value(&self) -> Value {
        Value::String(self.to_string().into())
    }
}

impl<T: SpanValue + ?Sized> SpanValue for &T {
    fn span_value(&self) -> Value {
        (**self).span_value()
    }
}

/// Single values: recorded under the key itself.
macro_rules! single {
    ($($t:ty),*) => {$(
        impl SpanAttributes for $t {
            #[inline]
            fn record(&self, key: AttributeKey, out: &mut Vec<KeyValue>) {
                push(key, self.span_value(), out);
            }
        }
    )*};
}
single!(
    i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, i128, u128, f32, f64, bool, char, str,
    String
);

impl SpanAttributes for Cow<'_, str> {
    fn record(&self, key: AttributeKey, out: &mut Vec<KeyValue>) {
        push(key, self.span_value(), out);
    }
}

impl<T: SpanAttributes + ?Sized> SpanAttributes for &T {
    fn record(&self, key: AttributeKey, out: &mut Vec<KeyValue>) {
        (**self).record(key, out);
    }
}

impl<T: SpanAttributes + ?Sized> SpanAttributes for &mut T {
    fn record(&self, key: AttributeKey, out: &mut Vec<KeyValue>) {
        (**self).record(key, out);
    }
}

impl<T: SpanAttributes + ?Sized> SpanAttributes for Box<T> {
    fn record(&self, key: AttributeKey, out: &mut Vec<KeyValue>) {
        (**self).record(key, out);
    }
}

impl<T: SpanAttributes + ?Sized> SpanAttributes for std::sync::Arc<T> {
    fn record(&self, key: AttributeKey, out: &mut Vec<KeyValue>) {
        (**self).record(key, out);
    }
}

/// `None` records nothing.
impl<T: SpanAttributes> SpanAttributes for Option<T> {
    fn record(&self, key: AttributeKey, out: &mut Vec<KeyValue>) {
        if let Some(value) = self {
            value.record(key, out);
        }
    }
}

/// Lists become OTel arrays when every element has the same kind (OTel's rule); otherwise the
/// elements' strings.
impl<T: SpanValue> SpanAttributes for [T] {
    fn record(&self, key: AttributeKey, out: &mut Vec<KeyValue>) {
        let values: Vec<Value> = self.iter().map(SpanValue::span_value).collect();
        let array = if values.iter().all(|v| matches!(v, Value::I64(_))) {
            Array::I64(values.iter().filter_map(as_i64).collect())
        } else if values.iter().all(|v| matches!(v, Value::F64(_))) {
            Array::F64(values.iter().filter_map(as_f64).collect())
        } else if values.iter().all(|v| matches!(v, Value::Bool(_))) {
            Array::Bool(values.iter().filter_map(as_bool).collect())
        } else {
            Array::String(values.iter().map(|v| bounded(&v.as_str())).collect())
        };
        push(key, Value::Array(array), out);
    }
}

impl<T: SpanValue> SpanAttributes for Vec<T> {
    fn record(&self, key: AttributeKey, out: &mut Vec<KeyValue>) {
        self.as_slice().record(key, out);
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::I64(i) => Some(*i),
        _ => None,
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::F64(f) => Some(*f),
        _ => None,
    }
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_keys_are_made_once_per_prefix_and_bounded() {
        static KEYS: JoinedKeys<2> = JoinedKeys::new();
        let under =
            |prefix: &'static str| KEYS.joined(&AttributeKey::Field(prefix), ["id", "tier"]);
        assert_eq!(
            KEYS.joined(&AttributeKey::Argument("order"), ["id", "tier"]),
            None
        );
        let first = under("order.customer").expect("kept");
        assert_eq!(first, &["order.customer.id", "order.customer.tier"]);
        // The same prefix, from a string made at run time: the same keys, made once.
        let again = KEYS
            .joined(
                &AttributeKey::Joined("order.customer".into()),
                ["id", "tier"],
            )
            .expect("kept");
        assert!(std::ptr::eq(again, first));
        for prefix in ["a", "b", "c"] {
            assert_eq!(under(prefix).expect("kept")[0], format!("{prefix}.id"));
        }
        // Past the kept prefixes: none kept; the caller joins them.
        assert_eq!(under("e"), None);
        assert_eq!(under("b").expect("kept")[1], "b.tier");
    }

    fn recorded<T: SpanAttributes + ?Sized>(value: &T, key: &'static str) -> Vec<KeyValue> {
        let mut out = Vec::new();
        value.record(AttributeKey::Argument(key), &mut out);
        out
    }

    #[test]
    fn values_become_attributes_of_their_otel_kind() {
        assert_eq!(recorded(&7u8, "n"), [KeyValue::new("n", 7i64)]);
        assert_eq!(
            recorded(&u64::MAX, "n"),
            [KeyValue::new("n", u64::MAX.to_string())]
        );
        assert_eq!(recorded(&1.5f32, "f"), [KeyValue::new("f", 1.5f64)]);
        assert_eq!(recorded("x", "s"), [KeyValue::new("s", "x")]);
        assert_eq!(recorded(&Some(true), "b"), [KeyValue::new("b", true)]);
        assert!(
            recorded(&None::<i32>, "none").is_empty(),
            "an empty option records nothing"
        );
        assert_eq!(
            recorded(&vec![1, 2], "list"),
            [KeyValue::new("list", Value::Array(Array::I64(vec![1, 2])))]
        );
    }

    #[test]
    fn hostile_strings_are_cut_at_a_character_boundary_and_counted() {
        let before = crate::stats().attribute_values_truncated;
        let long = "é".repeat(MAX_VALUE_BYTES); // two bytes each
        let kv = recorded(long.as_str(), "s");
        let Value::String(s) = &kv[0].value else {
            panic!("a string")
        };
        assert!(s.as_str().len() <= MAX_VALUE_BYTES);
        assert!(s.as_str().chars().all(|c| c == 'é'));
        assert!(crate::stats().attribute_values_truncated > before);
    }

    #[test]
    fn keys_of_nested_structs_are_prefixed_but_not_by_argument_names() {
        assert_eq!(AttributeKey::Argument("order").join("id"), "id");
        assert_eq!(AttributeKey::Field("customer").join("id"), "customer.id");
        assert_eq!(AttributeKey::Joined("a.b".into()).join("id"), "a.b.id");
    }
}
