//! JSON text stored in a column (a detection's `bbox`), written as its parsed value: the
//! common case, a short list of integers, recognised without building a `serde_json::Value`
//! ([`crate::render::json_text::JsonSink::stored_json`]).

/// The integers of `text` when it is a list of at most 8 integers of at most 18 digits
/// (`-0` excepted: serde_json reads it as a float), with single spaces around them at most:
/// text serde_json reads as the same list. None for anything else (then parsed as JSON).
pub(crate) fn small_int_list(text: &str) -> Option<([i64; 8], usize)> {
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    let mut ints = [0i64; 8];
    if inner.trim_matches(' ').is_empty() {
        return (inner.len() <= 1).then_some((ints, 0));
    }
    let mut n = 0;
    for item in inner.split(',') {
        let item = item.strip_prefix(' ').unwrap_or(item);
        let item = item.strip_suffix(' ').unwrap_or(item);
        let digits = item.strip_prefix('-').unwrap_or(item);
        let plain = (1..=18).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'))
            && item != "-0";
        if !plain || n == ints.len() {
            return None;
        }
        ints[n] = item.parse().ok()?;
        n += 1;
    }
    Some((ints, n))
}

#[cfg(test)]
mod tests {
    use crate::render::json_text::{JsonSink, JsonText, ValueTree};
    use crate::render::pyfmt::{dumps, to_json, PythonDumps, PythonFloats};
    use serde_json::Value;

    /// Stored JSON text written as its parsed value is, with each formatter and sink.
    fn stored_json_as_parsed<S: JsonSink>(
        finish: impl Fn(S) -> String,
        parsed: impl Fn(&Value) -> String,
    ) {
        let texts = [
            "[3123, 148, 3237, 381]",
            "[3123,148,3237,381]",
            "[ 1 , 2 ]",
            "[]",
            "[ ]",
            "[  ]",
            "[-5, 0, 7]",
            "[-0, 1]",
            "[01, 2]",
            "[1,,2]",
            "[1, 2,]",
            "[1.5, 2]",
            "[1e3]",
            "[1,  2]",
            "[1, 2] ",
            "[1, 2]x",
            "[\t1]",
            "[999999999999999999, -999999999999999999]",
            "[9999999999999999999]",
            "[18446744073709551616]",
            "[1, 2, 3, 4, 5, 6, 7, 8]",
            "[1, 2, 3, 4, 5, 6, 7, 8, 9]",
            "[+1]",
            "[1-2]",
            "{\"a\": 1}",
            "null",
            "",
            "[",
            "not json",
        ];
        for text in texts {
            let mut w = S::default();
            w.begin_array()
                .stored_json(Some(text))
                .stored_json(None)
                .end_array();
            let value = serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
            let expected = parsed(&Value::Array(vec![value, Value::Null]));
            assert_eq!(finish(w), expected, "{text:?}");
        }
    }

    #[test]
    fn stored_json_is_written_as_its_parsed_value() {
        let text = |w: JsonText<PythonFloats>| String::from_utf8(w.into_buffer()).unwrap();
        stored_json_as_parsed(text, to_json);
        let text = |w: JsonText<PythonDumps>| String::from_utf8(w.into_buffer()).unwrap();
        stored_json_as_parsed(text, dumps);
        stored_json_as_parsed(|w: ValueTree| w.finish().to_string(), Value::to_string);
    }
}
