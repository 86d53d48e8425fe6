//! Where the response shapes write their JSON: a [`JsonSink`] receives keys and values in
//! order. [`JsonText`] writes text straight into a buffer, with the separators, escaping and
//! float text of a `serde_json` [`Formatter`] (`pyfmt::PythonFloats` for the API's compact
//! text, `pyfmt::PythonDumps` for `json.dumps`): an export writes millions of objects without
//! building a `Value` tree for any. [`ValueTree`] builds a `serde_json::Value` (API responses,
//! which `verify` compares as values). Both let a nested object be rendered once and reused.

use serde::Serialize;
use serde_json::ser::Formatter;
use serde_json::{Map, Number, Value};

/// A receiver of one JSON value, written in order: inside an object, `key` then a value;
/// inside an array, values one after another.
pub trait JsonSink: Default {
    /// A complete value written once and inserted again with [`JsonSink::rendered`].
    type Rendered: Clone + Send + Sync;
    /// The value written (every container closed).
    fn finish(self) -> Self::Rendered;
    fn rendered(&mut self, r: &Self::Rendered) -> &mut Self;
    /// The key of the next member of the open object.
    fn key(&mut self, k: &str) -> &mut Self;
    fn begin_object(&mut self) -> &mut Self;
    fn end_object(&mut self) -> &mut Self;
    fn begin_array(&mut self) -> &mut Self;
    fn end_array(&mut self) -> &mut Self;
    fn null(&mut self) -> &mut Self;
    fn int(&mut self, v: i64) -> &mut Self;
    /// A float; NaN and infinities as `null`, as serde_json writes them.
    fn float(&mut self, v: f64) -> &mut Self;
    fn bool(&mut self, v: bool) -> &mut Self;
    fn str(&mut self, v: &str) -> &mut Self;
    /// A value read from a row or parsed from stored JSON.
    fn value(&mut self, v: &Value) -> &mut Self;

    fn opt_int(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }

    fn opt_float(&mut self, v: Option<f64>) -> &mut Self {
        match v {
            Some(v) => self.float(v),
            None => self.null(),
        }
    }

    fn opt_bool(&mut self, v: Option<bool>) -> &mut Self {
        match v {
            Some(v) => self.bool(v),
            None => self.null(),
        }
    }

    fn opt_str(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.str(v),
            None => self.null(),
        }
    }

    /// Where the sink's text ends now, for [`JsonSink::again`] (None: a sink without text).
    fn mark(&self) -> Option<usize> {
        None
    }

    /// The value written between marks `from` and `to` (of [`JsonSink::mark`], with the
    /// separator before it, if any), written again as the next value.
    fn again(&mut self, from: usize, to: usize) -> &mut Self {
        unreachable!("again({from}, {to}) on a sink without marks")
    }

    /// JSON text stored in a column, written as its parsed value (null when it is not valid
    /// JSON). A short list of integers (a bounding box) is written without a `Value`.
    fn stored_json(&mut self, text: Option<&str>) -> &mut Self {
        if let Some((ints, n)) = text.and_then(crate::render::stored_json::small_int_list) {
            self.begin_array();
            for v in &ints[..n] {
                self.int(*v);
            }
            return self.end_array();
        }
        match text.and_then(|t| serde_json::from_str::<Value>(t).ok()) {
            Some(v) => self.value(&v),
            None => self.null(),
        }
    }

    /// A list of strings.
    fn strs(&mut self, items: &[&str]) -> &mut Self {
        self.begin_array();
        for s in items {
            self.str(s);
        }
        self.end_array()
    }
}

/// JSON text under construction, in the style of formatter `F`.
#[derive(Default)]
pub struct JsonText<F> {
    buf: Vec<u8>,
    f: F,
    /// Open containers: (is an array, no member written yet).
    open: Vec<(bool, bool)>,
}

impl<F: Formatter + Copy + Default> JsonText<F> {
    /// JSON text appended to `buf` (an export writes many objects into one buffer).
    pub fn appending_to(buf: Vec<u8>) -> Self {
        JsonText {
            buf,
            f: F::default(),
            open: Vec::new(),
        }
    }

    /// `bytes` appended as they are, between top-level values (an export's separators).
    pub fn raw(&mut self, bytes: &[u8]) {
        debug_assert!(self.open.is_empty(), "raw bytes inside a JSON container");
        self.buf.extend_from_slice(bytes);
    }

    /// The buffer, with every value written (every container closed).
    pub fn into_buffer(self) -> Vec<u8> {
        debug_assert!(self.open.is_empty(), "unclosed JSON container");
        self.buf
    }
}

impl<F: Formatter + Copy> JsonText<F> {
    fn fmt(&self) -> F {
        self.f
    }

    // Writes into a Vec cannot fail: the formatter's io::Results are always Ok.
    fn pre(&mut self) {
        let mut f = self.f;
        if let Some((true, first)) = self.open.last_mut() {
            let _ = f.begin_array_value(&mut self.buf, *first);
            *first = false;
        }
    }

    fn post(&mut self) {
        let mut f = self.f;
        let _ = match self.open.last() {
            Some((true, _)) => f.end_array_value(&mut self.buf),
            Some((false, _)) => f.end_object_value(&mut self.buf),
            None => Ok(()),
        };
    }

    fn serialize(&mut self, v: &(impl Serialize + ?Sized)) {
        let mut ser = serde_json::Serializer::with_formatter(&mut self.buf, self.f);
        v.serialize(&mut ser)
            .expect("writing JSON into a Vec cannot fail");
    }

    /// `v` between quotes, as it is (see [`needs_no_escape`]).
    fn quoted(&mut self, v: &str) {
        self.buf.reserve(v.len() + 2);
        self.buf.push(b'"');
        self.buf.extend_from_slice(v.as_bytes());
        self.buf.push(b'"');
    }

    fn scalar(&mut self, v: &(impl Serialize + ?Sized)) -> &mut Self {
        self.pre();
        self.serialize(v);
        self.post();
        self
    }
}

impl<F: Formatter + Copy + Default + Send + Sync> JsonSink for JsonText<F> {
    type Rendered = std::sync::Arc<[u8]>;

    fn finish(self) -> Self::Rendered {
        debug_assert!(self.open.is_empty(), "unclosed JSON container");
        self.buf.into()
    }

    fn rendered(&mut self, r: &Self::Rendered) -> &mut Self {
        self.pre();
        self.buf.extend_from_slice(r);
        self.post();
        self
    }

    fn mark(&self) -> Option<usize> {
        Some(self.buf.len())
    }

    fn again(&mut self, from: usize, to: usize) -> &mut Self {
        // A value never starts with a separator's bytes.
        let separator = self.buf[from..to]
            .iter()
            .take_while(|b| matches!(b, b',' | b' ' | b'\n' | b'\t' | b'\r'))
            .count();
        self.pre();
        self.buf.extend_from_within(from + separator..to);
        self.post();
        self
    }

    fn key(&mut self, k: &str) -> &mut Self {
        let mut f = self.f;
        let first = match self.open.last_mut() {
            Some((false, first)) => std::mem::replace(first, false),
            _ => panic!("JSON key {k:?} outside an object"),
        };
        let _ = f.begin_object_key(&mut self.buf, first);
        if needs_no_escape(k) {
            self.quoted(k);
        } else {
            self.serialize(k);
        }
        let _ = f.end_object_key(&mut self.buf);
        let _ = f.begin_object_value(&mut self.buf);
        self
    }

    fn begin_object(&mut self) -> &mut Self {
        self.pre();
        let _ = self.fmt().begin_object(&mut self.buf);
        self.open.push((false, true));
        self
    }

    fn end_object(&mut self) -> &mut Self {
        self.open.pop();
        let _ = self.fmt().end_object(&mut self.buf);
        self.post();
        self
    }

    fn begin_array(&mut self) -> &mut Self {
        self.pre();
        let _ = self.fmt().begin_array(&mut self.buf);
        self.open.push((true, true));
        self
    }

    fn end_array(&mut self) -> &mut Self {
        self.open.pop();
        let _ = self.fmt().end_array(&mut self.buf);
        self.post();
        self
    }

    fn null(&mut self) -> &mut Self {
        self.scalar(&())
    }

    fn int(&mut self, v: i64) -> &mut Self {
        self.scalar(&v)
    }

    fn float(&mut self, v: f64) -> &mut Self {
        self.scalar(&v)
    }

    fn bool(&mut self, v: bool) -> &mut Self {
        self.scalar(&v)
    }

    fn str(&mut self, v: &str) -> &mut Self {
        if needs_no_escape(v) {
            self.pre();
            self.quoted(v);
            self.post();
            return self;
        }
        self.scalar(v)
    }

    fn value(&mut self, v: &Value) -> &mut Self {
        self.scalar(v)
    }
}

/// Printable ASCII without `"` or `\` needs no escape, and each formatter used here
/// (PythonFloats, PythonDumps; a test checks both) writes such a string as it is between
/// quotes: written directly (PythonDumps goes through a string char by char; keys, links,
/// instants and names are most of an export's strings).
fn needs_no_escape(v: &str) -> bool {
    v.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// A `serde_json::Value` under construction.
#[derive(Default)]
pub struct ValueTree {
    root: Option<Value>,
    open: Vec<Open>,
}

enum Open {
    Object(Map<String, Value>, Option<String>),
    Array(Vec<Value>),
}

impl ValueTree {
    fn put(&mut self, v: Value) -> &mut Self {
        match self.open.last_mut() {
            Some(Open::Object(m, key)) => {
                let k = key.take().expect("a key before each object member");
                m.insert(k, v);
            }
            Some(Open::Array(a)) => a.push(v),
            None => self.root = Some(v),
        }
        self
    }
}

impl JsonSink for ValueTree {
    type Rendered = Value;

    fn finish(self) -> Value {
        debug_assert!(self.open.is_empty(), "unclosed JSON container");
        self.root.unwrap_or(Value::Null)
    }

    fn rendered(&mut self, r: &Value) -> &mut Self {
        self.put(r.clone())
    }

    fn key(&mut self, k: &str) -> &mut Self {
        match self.open.last_mut() {
            Some(Open::Object(_, key)) => *key = Some(k.to_string()),
            _ => panic!("JSON key {k:?} outside an object"),
        }
        self
    }

    fn begin_object(&mut self) -> &mut Self {
        self.open.push(Open::Object(Map::new(), None));
        self
    }

    fn end_object(&mut self) -> &mut Self {
        match self.open.pop() {
            Some(Open::Object(m, _)) => self.put(Value::Object(m)),
            _ => panic!("end_object without an open object"),
        }
    }

    fn begin_array(&mut self) -> &mut Self {
        self.open.push(Open::Array(Vec::new()));
        self
    }

    fn end_array(&mut self) -> &mut Self {
        match self.open.pop() {
            Some(Open::Array(a)) => self.put(Value::Array(a)),
            _ => panic!("end_array without an open array"),
        }
    }

    fn null(&mut self) -> &mut Self {
        self.put(Value::Null)
    }

    fn int(&mut self, v: i64) -> &mut Self {
        self.put(Value::from(v))
    }

    fn float(&mut self, v: f64) -> &mut Self {
        self.put(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn bool(&mut self, v: bool) -> &mut Self {
        self.put(Value::Bool(v))
    }

    fn str(&mut self, v: &str) -> &mut Self {
        self.put(Value::from(v))
    }

    fn value(&mut self, v: &Value) -> &mut Self {
        self.put(v.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::pyfmt::{dumps, to_json, PythonDumps, PythonFloats};
    use serde_json::json;

    fn sample<S: JsonSink>() -> S::Rendered {
        let mut inner = S::default();
        inner.begin_array().end_array();
        let inner = inner.finish();
        let mut w = S::default();
        w.begin_object();
        w.key("a")
            .begin_array()
            .int(1)
            .float(2.0)
            .float(f64::NAN)
            .end_array();
        w.key("b").str("é😀\n\"");
        w.key("c").null();
        w.key("d").begin_object().key("e").bool(true).end_object();
        w.key("f").strs(&["x", "y"]);
        w.key("g").rendered(&inner);
        w.key("h").value(&json!({"i": 0.1}));
        w.key("j").opt_int(None).key("k").opt_str(Some("s"));
        w.end_object();
        w.finish()
    }

    /// Strings as serde_json writes them with formatter `F`, and as `JsonText<F>` does.
    fn strings_as_serde_writes_them<F: Formatter + Copy + Default + Send + Sync>() {
        let pieces = [
            "",
            "a",
            " ",
            "~",
            "\u{7f}",
            "\"",
            "\\",
            "/",
            "\n",
            "\t",
            "\u{1}",
            "\u{1f}",
            "é",
            "😀",
            "\u{2028}",
            "https://example.org/api/v2/x/1/",
            "2023-06-09T05:34:14.944911",
        ];
        let mut strings = Vec::new();
        for a in pieces {
            for b in pieces {
                strings.push(format!("{a}{b}"));
                strings.push(format!("x{a}y{b}z"));
            }
        }
        for s in &strings {
            let mut w = JsonText::<F>::default();
            w.begin_array().str(s).str(s).end_array();
            let mut expected = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(&mut expected, F::default());
            serde::Serialize::serialize(&[s, s], &mut ser).unwrap();
            assert_eq!(
                String::from_utf8(w.into_buffer()).unwrap(),
                String::from_utf8(expected).unwrap(),
                "{s:?}"
            );
            // As a key.
            let mut w = JsonText::<F>::default();
            w.begin_object().key(s).str(s).end_object();
            let mut expected = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(&mut expected, F::default());
            serde::Serialize::serialize(&json!({ s.as_str(): s }), &mut ser).unwrap();
            assert_eq!(
                String::from_utf8(w.into_buffer()).unwrap(),
                String::from_utf8(expected).unwrap(),
                "key {s:?}"
            );
        }
    }

    #[test]
    fn a_value_written_again_is_the_same_text_in_its_new_place() {
        let mut w = JsonText::<PythonDumps>::default();
        w.begin_array();
        let one = w.mark().unwrap();
        w.int(1);
        let (one, from) = (one..w.mark().unwrap(), w.mark().unwrap());
        w.begin_object().key("a").int(1).end_object();
        let to = w.mark().unwrap();
        w.again(from, to);
        w.begin_object().key("k");
        let (from, _) = (w.mark().unwrap(), w.begin_array().int(2).end_array());
        let to = w.mark().unwrap();
        w.key("m").again(from, to).end_object();
        w.again(one.start, one.end).end_array();
        let text = String::from_utf8(w.into_buffer()).unwrap();
        assert_eq!(
            text,
            dumps(&json!([1, {"a": 1}, {"a": 1}, {"k": [2], "m": [2]}, 1]))
        );
        assert!(ValueTree::default().mark().is_none());
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them_with_each_formatter() {
        strings_as_serde_writes_them::<PythonFloats>();
        strings_as_serde_writes_them::<PythonDumps>();
    }

    #[test]
    fn every_sink_writes_the_same_value() {
        let v = json!({"a": [1, 2.0, null], "b": "é😀\n\"", "c": null, "d": {"e": true},
                       "f": ["x", "y"], "g": [], "h": {"i": 0.1}, "j": null, "k": "s"});
        let text = |r: std::sync::Arc<[u8]>| String::from_utf8(r.to_vec()).unwrap();
        assert_eq!(text(sample::<JsonText<PythonFloats>>()), to_json(&v));
        assert_eq!(text(sample::<JsonText<PythonDumps>>()), dumps(&v));
        assert_eq!(sample::<ValueTree>(), v);
    }
}
