//! Comparing two API responses as Antenna's non-determinism allows (used by `occlens verify`
//! and the parity tests): same status, same keys in the same order, equal values (numbers
//! exactly, or within a tolerance), `user_permissions` as sets, presigned URLs without their
//! query strings, and ordered list pages as the sequence of sort keys plus the id set of each
//! tie group.

use crate::api::endpoints::Order;
use crate::api::request::{parse, Endpoint};
use serde_json::Value;
use std::collections::BTreeSet;

/// A difference at a JSON pointer.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub pointer: String,
    pub expected: Value,
    pub actual: Value,
}

fn push(out: &mut Vec<Mismatch>, pointer: &str, expected: &Value, actual: &Value) {
    out.push(Mismatch {
        pointer: pointer.to_string(),
        expected: expected.clone(),
        actual: actual.clone(),
    });
}

/// How leniently values are compared.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules {
    /// Numbers within this absolute difference are equal when either is a float; two
    /// integers (ids, counts) are always compared exactly.
    pub float_tolerance: Option<f64>,
}

fn numbers_equal(a: &serde_json::Number, b: &serde_json::Number, rules: Rules) -> bool {
    let integers = !a.is_f64() && !b.is_f64();
    if let (Some(t), Some(x), Some(y), false) =
        (rules.float_tolerance, a.as_f64(), b.as_f64(), integers)
    {
        return (x - y).abs() <= t;
    }
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => x == y,
        _ => a.is_f64() == b.is_f64() && a.as_f64() == b.as_f64(),
    }
}

/// A presigned object-store URL's signature parameters change with every request: such URLs
/// are compared without their query string.
fn presigned(s: &str) -> Option<&str> {
    let (base, query) = s.split_once('?')?;
    let signed = [
        "X-Amz-Signature=",
        "Signature=",
        "X-Goog-Signature=",
        "sig=",
    ]
    .iter()
    .any(|p| query.contains(p));
    (signed && (base.starts_with("http://") || base.starts_with("https://"))).then_some(base)
}

fn strings_equal(a: &str, b: &str) -> bool {
    a == b || matches!((presigned(a), presigned(b)), (Some(x), Some(y)) if x == y)
}

fn permission_set(v: &Value) -> Option<BTreeSet<String>> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.to_string()).collect())
}

/// Whether two arrays have the same length; a difference is recorded at `pointer/(length)`.
fn same_length(pointer: &str, e: &[Value], a: &[Value], out: &mut Vec<Mismatch>) -> bool {
    if e.len() != a.len() {
        let (el, al) = (Value::from(e.len()), Value::from(a.len()));
        push(out, &format!("{pointer}/(length)"), &el, &al);
    }
    e.len() == a.len()
}

/// Deep comparison of two JSON values; differences are appended to `out`.
pub fn compare_values(
    pointer: &str,
    expected: &Value,
    actual: &Value,
    rules: Rules,
    out: &mut Vec<Mismatch>,
) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let ek: Vec<&String> = e.keys().collect();
            let ak: Vec<&String> = a.keys().collect();
            if ek != ak {
                push(
                    out,
                    &format!("{pointer}/(keys)"),
                    &Value::from(ek.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
                    &Value::from(ak.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
                );
                return;
            }
            for (k, ev) in e {
                let p = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                if k == "user_permissions" {
                    if permission_set(ev) != permission_set(&a[k]) {
                        push(out, &p, ev, &a[k]);
                    }
                } else if k == "data" && ranked_bars(e) {
                    compare_ranked_bars(&p, ev, &a[k], rules, out);
                } else if pointer.is_empty() && k == "example_captures" {
                    compare_top_k(&p, ev, &a[k], rules, out);
                } else if let Some(tie_keys) = nested_order(k) {
                    compare_tied(&p, ev, &a[k], tie_keys, rules, out);
                } else {
                    compare_values(&p, ev, &a[k], rules, out);
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if !same_length(pointer, e, a, out) {
                return;
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                compare_values(&format!("{pointer}/{i}"), ev, av, rules, out);
            }
        }
        (Value::Number(x), Value::Number(y)) if numbers_equal(x, y, rules) => {}
        (Value::String(x), Value::String(y)) if strings_equal(x, y) => {}
        (x, y) if x == y => {}
        _ => push(out, pointer, expected, actual),
    }
}

/// Nested lists whose Antenna order has no tiebreaker (spec §9.2, and the other endpoints'
/// lists named below), with their sort keys.
fn nested_order(key: &str) -> Option<&'static [&'static str]> {
    match key {
        "identifications" | "predictions" => Some(&["created_at"]),
        "detections" => Some(&["timestamp"]),
        // A capture's sets (an M2M prefetch without Meta ordering): any order.
        "collections" => Some(&[]),
        "classifications" => Some(&["created_at", "score"]),
        // occurrences/stats/top-identifiers: `ORDER BY -identification_count` only.
        "top_identifiers" => Some(&["identification_count"]),
        _ => None,
    }
}

/// A "Top species" chart (event detail, project charts): a horizontal bar plot of the 10
/// most frequent taxa, counts on `x` ascending and names on `y`, from `ORDER BY count DESC
/// LIMIT 10` with no tiebreaker.
fn ranked_bars(plot: &serde_json::Map<String, Value>) -> bool {
    plot.get("orientation").and_then(Value::as_str) == Some("h")
        && plot
            .get("title")
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with("Top species"))
}

/// The counts must be equal; within a run of equal counts the names are a set, and in the
/// lowest run of a full chart (10 bars) which tied taxa made the cut is undefined too.
fn compare_ranked_bars(
    pointer: &str,
    expected: &Value,
    actual: &Value,
    rules: Rules,
    out: &mut Vec<Mismatch>,
) {
    let (ex, ax) = (&expected["x"], &actual["x"]);
    let (Some(e), Some(a), Some(names_e), Some(names_a)) = (
        ex.as_array(),
        ax.as_array(),
        expected["y"].as_array(),
        actual["y"].as_array(),
    ) else {
        return compare_values(pointer, expected, actual, rules, out);
    };
    compare_values(&format!("{pointer}/x"), ex, ax, rules, out);
    let keys = |v: &Value| v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>());
    if keys(expected) != keys(actual)
        || e != a
        || !same_length(&format!("{pointer}/y"), names_e, names_a, out)
    {
        return;
    }
    let mut start = 0;
    while start < e.len() {
        let end = (start..e.len())
            .find(|&i| e[i] != e[start])
            .unwrap_or(e.len());
        let set = |names: &[Value]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
        let cut = start == 0 && e.len() == 10;
        if !cut && set(&names_e[start..end]) != set(&names_a[start..end]) {
            push(
                out,
                &format!("{pointer}/y/{start}..{end}"),
                &Value::from(&names_e[start..end]),
                &Value::from(&names_a[start..end]),
            );
        }
        start = end;
    }
}

/// A deployment's `example_captures` (`ORDER BY -size LIMIT 10`; sizes are not in the body
/// and heavily tied, so which tied captures make the cut, and their order, is undefined):
/// the same length, and equal content for the ids both sides hold.
fn compare_top_k(
    pointer: &str,
    expected: &Value,
    actual: &Value,
    rules: Rules,
    out: &mut Vec<Mismatch>,
) {
    let (Some(e), Some(a)) = (expected.as_array(), actual.as_array()) else {
        return compare_values(pointer, expected, actual, rules, out);
    };
    if !same_length(pointer, e, a, out) {
        return;
    }
    for (i, item) in e.iter().enumerate() {
        if let Some(ours) = a.iter().find(|x| x["id"] == item["id"]) {
            compare_values(&format!("{pointer}/{i}"), item, ours, rules, out);
        }
    }
}

/// Compare two arrays ordered by `tie_keys` only: within a run of equal keys, the actual
/// items are matched to the expected ones by `id`.
fn compare_tied(
    pointer: &str,
    expected: &Value,
    actual: &Value,
    tie_keys: &[&str],
    rules: Rules,
    out: &mut Vec<Mismatch>,
) {
    let (Some(e), Some(a)) = (expected.as_array(), actual.as_array()) else {
        return compare_values(pointer, expected, actual, rules, out);
    };
    if !same_length(pointer, e, a, out) {
        return;
    }
    let key = |v: &Value| {
        tie_keys
            .iter()
            .map(|k| v[*k].to_string())
            .collect::<Vec<_>>()
    };
    let mut reordered = a.clone();
    let mut start = 0;
    while start < e.len() {
        let mut end = start + 1;
        while end < e.len() && key(&e[end]) == key(&e[start]) {
            end += 1;
        }
        for i in start..end {
            if let Some(j) = (start..end).find(|&j| a[j]["id"] == e[i]["id"]) {
                reordered[i] = a[j].clone();
            }
        }
        start = end;
    }
    compare_values(pointer, expected, &Value::Array(reordered), rules, out);
}

/// The order of a list answer to `url`: JSON pointers of each item's sort keys, or none.
pub fn list_order(url: &str) -> Option<Order> {
    match parse(url) {
        Ok((Endpoint::List, r)) if r.ordering.is_empty() => Some(Order::Unordered),
        Ok((Endpoint::List, r)) => Some(Order::Keys(
            r.ordering
                .iter()
                .map(|(f, _)| occurrence_key(f).to_string())
                .collect(),
        )),
        _ => crate::api::endpoints::order(url),
    }
}

/// Where an occurrence list item holds the sort key of one ordering field.
fn occurrence_key(field: &str) -> String {
    match field {
        "deployment" => "/deployment/id".into(),
        "determination" => "/determination/id".into(),
        "determination__name" => "/determination/name".into(),
        // Each event has one start: the event id identifies the start's tie group.
        "event" | "event__start" => "/event/id".into(),
        other => format!("/{other}"),
    }
}

/// Compare two responses to `url`.
pub fn compare_responses(
    url: &str,
    expected_status: u16,
    expected: &Value,
    actual_status: u16,
    actual: &Value,
    rules: Rules,
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    if expected_status != actual_status {
        push(
            &mut out,
            "(status)",
            &Value::from(expected_status),
            &Value::from(actual_status),
        );
        return out;
    }
    if expected_status >= 500 {
        // Antenna's 500 bodies are HTML error pages.
        return out;
    }
    let order = list_order(url).filter(|_| expected_status == 200);
    let Some(order) = order else {
        compare_values("", expected, actual, rules, &mut out);
        return out;
    };
    compare_links(expected, actual, rules, &mut out);
    let empty = vec![];
    let e = expected["results"].as_array().unwrap_or(&empty);
    let a = actual["results"].as_array().unwrap_or(&empty);
    if e.len() != a.len() {
        push(
            &mut out,
            "/results/(length)",
            &Value::from(e.len()),
            &Value::from(a.len()),
        );
        return out;
    }
    let key = |item: &Value| -> Value {
        match &order {
            Order::Unordered => item["id"].clone(),
            Order::Keys(pointers) => Value::Array(
                pointers
                    .iter()
                    .map(|p| item.pointer(p).cloned().unwrap_or(Value::Null))
                    .collect(),
            ),
        }
    };
    let (ek, ak): (Vec<Value>, Vec<Value>) =
        (e.iter().map(key).collect(), a.iter().map(key).collect());
    let mut start = 0;
    while start < e.len() {
        let mut end = start + 1;
        while end < e.len() && ek[end] == ek[start] {
            end += 1;
        }
        let mut sub = Vec::new();
        for i in start..end {
            compare_values(
                &format!("/results/{i}/(sort key)"),
                &ek[i],
                &ak[i],
                rules,
                &mut sub,
            );
        }
        out.extend(sub);
        // A tie group cut by the page boundary may hold other members of the group.
        let cut = (start == 0 && !expected["previous"].is_null())
            || (end == e.len() && !expected["next"].is_null());
        let ids = |items: &[Value]| {
            items
                .iter()
                .map(|i| i["id"].to_string())
                .collect::<BTreeSet<_>>()
        };
        if !cut && ids(&e[start..end]) != ids(&a[start..end]) {
            push(
                &mut out,
                &format!("/results/{start}..{end}/(tie group ids)"),
                &Value::from(ids(&e[start..end]).into_iter().collect::<Vec<_>>()),
                &Value::from(ids(&a[start..end]).into_iter().collect::<Vec<_>>()),
            );
        }
        start = end;
    }
    for (i, item) in e.iter().enumerate() {
        if let Some(other) = a.iter().find(|x| x["id"] == item["id"]) {
            compare_values(&format!("/results/{i}"), item, other, rules, &mut out);
        }
    }
    let rest = compare_envelope_rest(expected, actual);
    out.extend(rest);
    out
}

/// A page's `count`, `next` and `previous`.
fn compare_links(expected: &Value, actual: &Value, rules: Rules, out: &mut Vec<Mismatch>) {
    for k in ["count", "next", "previous"] {
        compare_values(&format!("/{k}"), &expected[k], &actual[k], rules, out);
    }
}

fn compare_envelope_rest(expected: &Value, actual: &Value) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let keys = |v: &Value| {
        v.as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    if keys(expected) != keys(actual) {
        push(
            &mut out,
            "/(keys)",
            &Value::from(keys(expected)),
            &Value::from(keys(actual)),
        );
    }
    if permission_set(&expected["user_permissions"]) != permission_set(&actual["user_permissions"])
    {
        push(
            &mut out,
            "/user_permissions",
            &expected["user_permissions"],
            &actual["user_permissions"],
        );
    }
    out
}

/// Whether `url` asks for a list page without an ordering: Antenna's SQL then has no ORDER BY
/// (spec §5.5), so the page is an arbitrary slice of the result.
pub fn unordered_page(url: &str) -> bool {
    list_order(url) == Some(Order::Unordered)
}

/// Compare a page without an ordering: `count`, `next`, `previous`, the keys and the page
/// length as usual; then its rows as a set — each expected row must be in `all` (the whole
/// result, in any order) with equal content, and no id may appear twice.
pub fn compare_unordered_page(
    expected: &Value,
    actual: &Value,
    all: &[Value],
    rules: Rules,
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    compare_links(expected, actual, rules, &mut out);
    let (e, a) = (expected["results"].as_array(), actual["results"].as_array());
    let (e, a) = (
        e.map_or(&[][..], Vec::as_slice),
        a.map_or(&[][..], Vec::as_slice),
    );
    same_length("/results", e, a, &mut out);
    let mut seen = BTreeSet::new();
    for (i, item) in e.iter().enumerate() {
        if !seen.insert(item["id"].to_string()) {
            push(
                &mut out,
                &format!("/results/{i}/id"),
                &item["id"],
                &Value::Null,
            );
            continue;
        }
        match all.iter().find(|x| x["id"] == item["id"]) {
            Some(ours) => compare_values(&format!("/results/{i}"), item, ours, rules, &mut out),
            None => push(
                &mut out,
                &format!("/results/{i}/id"),
                &item["id"],
                &Value::Null,
            ),
        }
    }
    out.extend(compare_envelope_rest(expected, actual));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_tolerance_is_for_floats_and_integers_compare_exactly() {
        let rules = Rules {
            float_tolerance: Some(1.0),
        };
        let n = |v: Value| v.as_number().unwrap().clone();
        assert!(numbers_equal(&n(json!(0.5)), &n(json!(1.25)), rules));
        assert!(numbers_equal(&n(json!(2)), &n(json!(2.5)), rules));
        assert!(!numbers_equal(&n(json!(0.5)), &n(json!(1.75)), rules));
        assert!(!numbers_equal(&n(json!(2)), &n(json!(1)), rules));
        assert!(numbers_equal(&n(json!(2)), &n(json!(2)), rules));
        assert!(!numbers_equal(
            &n(json!(2)),
            &n(json!(2.0)),
            Rules::default()
        ));
    }

    fn diff(url: &str, e: &Value, a: &Value) -> Vec<Mismatch> {
        compare_responses(url, 200, e, 200, a, Rules::default())
    }

    #[test]
    fn top_species_names_are_sets_within_equal_counts() {
        let plot = |x: Value, y: Value| {
            json!({"summary_data": [{"title": "Top species", "data": {"x": x, "y": y},
                                     "type": "bar", "orientation": "h"}]})
        };
        let e = plot(json!([1, 2, 2, 3]), json!(["a", "b", "c", "d"]));
        let swapped = plot(json!([1, 2, 2, 3]), json!(["a", "c", "b", "d"]));
        assert!(diff("/api/v2/events/1/", &e, &swapped).is_empty());
        let moved = plot(json!([1, 2, 2, 3]), json!(["b", "a", "c", "d"]));
        assert_eq!(diff("/api/v2/events/1/", &e, &moved).len(), 2);
        let counts = plot(json!([1, 2, 3, 3]), json!(["a", "b", "c", "d"]));
        assert!(!diff("/api/v2/events/1/", &e, &counts).is_empty());
        // A full chart: which of the lowest tied taxa made the cut is undefined.
        let x: Vec<i64> = vec![0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        let names = |first: &str| {
            let mut n = vec![first.to_string()];
            n.extend((1..10).map(|i| format!("t{i}")));
            n
        };
        let full = plot(json!(x), json!(names("z")));
        assert!(diff(
            "/api/v2/projects/1/charts/",
            &full,
            &plot(json!(x), json!(names("y")))
        )
        .is_empty());
    }

    #[test]
    fn deployment_example_captures_compare_shared_ids_only() {
        let e =
            json!({"id": 1, "example_captures": [{"id": 1, "url": "a"}, {"id": 2, "url": "b"}]});
        let other =
            json!({"id": 1, "example_captures": [{"id": 3, "url": "c"}, {"id": 1, "url": "a"}]});
        assert!(diff("/api/v2/deployments/1/", &e, &other).is_empty());
        let wrong =
            json!({"id": 1, "example_captures": [{"id": 1, "url": "x"}, {"id": 2, "url": "b"}]});
        assert_eq!(diff("/api/v2/deployments/1/", &e, &wrong).len(), 1);
        let short = json!({"id": 1, "example_captures": [{"id": 1, "url": "a"}]});
        assert_eq!(diff("/api/v2/deployments/1/", &e, &short).len(), 1);
    }

    #[test]
    fn top_identifiers_ties_are_sets() {
        let e = json!({"project_id": 1, "top_identifiers": [
            {"id": 4, "identification_count": 5}, {"id": 3, "identification_count": 5},
            {"id": 5, "identification_count": 2}]});
        let a = json!({"project_id": 1, "top_identifiers": [
            {"id": 3, "identification_count": 5}, {"id": 4, "identification_count": 5},
            {"id": 5, "identification_count": 2}]});
        assert!(diff(
            "/api/v2/occurrences/stats/top-identifiers/?project_id=1",
            &e,
            &a
        )
        .is_empty());
    }

    #[test]
    fn a_captures_detections_and_sets_are_sets() {
        let e = json!({"id": 1, "collections": [{"id": 1}, {"id": 2}],
                       "detections": [{"id": 7, "bbox": [1]}, {"id": 8, "bbox": [2]}]});
        let a = json!({"id": 1, "collections": [{"id": 2}, {"id": 1}],
                       "detections": [{"id": 8, "bbox": [2]}, {"id": 7, "bbox": [1]}]});
        assert!(diff("/api/v2/captures/1/?project_id=1", &e, &a).is_empty());
        let wrong = json!({"id": 1, "collections": [{"id": 2}, {"id": 3}],
                           "detections": [{"id": 8, "bbox": [2]}, {"id": 7, "bbox": [9]}]});
        assert_eq!(
            diff("/api/v2/captures/1/?project_id=1", &e, &wrong).len(),
            2
        );
    }
}
