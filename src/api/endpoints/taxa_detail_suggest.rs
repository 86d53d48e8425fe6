//! `GET /api/v2/taxa/suggest/?q=…&limit=…` (Antenna 731cc2a2 `TaxonViewSet.suggest`,
//! `TaxonSearchResultSerializer`): active taxa whose name or `search_names::text` contains `q`
//! (icontains), ranked by pg_trgm `similarity` (PostgreSQL 15 contrib/pg_trgm/trgm_op.c), top
//! `min(10, limit)` by PostgreSQL's bounded sort (no tiebreak). No pagination, no filter
//! backends, no `project_id`. SQL: `taxa_suggest.candidates` of queries/taxa_detail.sql.

use super::pg_sort::pg_top_n;
use super::taxa_detail::parent_object;
use super::taxa_detail_filters::{py_strip, server_error};
use crate::api::endpoints::{EndpointAnswer, Endpoints, Model};
use crate::api::params::drf_integer_text;
use crate::api::params::{py_int, PyInt};
use crate::engine::rows::{Row, RowExt};
use serde_json::{json, Map, Value};
use std::cmp::Ordering;
use std::collections::HashSet;

pub(super) async fn suggest(e: &Endpoints<'_>) -> EndpointAnswer {
    let p = e.params;
    // forms.CharField(required=False): stripped; a NUL fails its validator (500).
    let q = py_strip(p.last("q").unwrap_or(""));
    if q.contains('\0') {
        return Ok(Err(server_error("q contains a NUL character".into())));
    }
    // forms.IntegerField(required=False, min_value=0), default 10 when the key is absent; its
    // ValidationError is not a DRF one: 500.
    let limit = match p.last("limit") {
        None => Some(10),
        Some("") => None,
        Some(v) => match py_int(drf_integer_text(v)) {
            Some(PyInt::Int(n)) if n >= 0 => Some(n),
            Some(PyInt::Big) => Some(i64::MAX),
            _ => {
                return Ok(Err(server_error(format!(
                    "limit {v:?} is not an integer >= 0"
                ))))
            }
        },
    };
    if q.chars().count() < 2 {
        return Ok(Ok(json!([])));
    }
    // qs[:10][:limit]
    let bound = limit.map_or(10, |l| l.min(10)) as usize;
    let rows = e.rows(&e.sql("taxa_suggest.candidates", &[])).await?;
    let needle = pg_upper(q);
    let mut matches: Vec<(f32, &Row)> = Vec::new();
    for r in &rows {
        let name = r.str("name").unwrap_or("");
        let names = r
            .get("search_names")
            .and_then(Value::as_array)
            .map(|a| array_text(a));
        let hit = pg_upper(name).contains(&needle)
            || names
                .as_deref()
                .is_some_and(|n| pg_upper(n).contains(&needle));
        if hit {
            // GREATEST ignores the NULL of a NULL array.
            let sim = match &names {
                Some(n) => similarity(name, q).max(similarity(n, q)),
                None => similarity(name, q),
            };
            matches.push((sim, r));
        }
    }
    let top = pg_top_n(&matches, bound, |a, b| {
        b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal)
    });
    let perms = e.permissions(Model::Taxon, false);
    let items = top
        .iter()
        .map(|(_, r)| {
            let mut m = Map::new();
            m.insert("id".into(), r.get("id").cloned().unwrap_or(Value::Null));
            m.insert("name".into(), r.get("name").cloned().unwrap_or(Value::Null));
            m.insert("rank".into(), r.get("rank").cloned().unwrap_or(Value::Null));
            m.insert("parent".into(), parent_object(e, r));
            m.insert("user_permissions".into(), perms.clone());
            Value::Object(m)
        })
        .collect();
    Ok(Ok(Value::Array(items)))
}

/// PostgreSQL's `upper()` in a UTF-8 libc locale: each character to its single uppercase
/// form (`towupper`); a character whose uppercase is several (ß) stays.
fn pg_upper(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

/// PostgreSQL's text form of a `varchar[]` (`array_out`): `{a,b,"c d"}`; an element is quoted
/// when empty, `NULL` in any case, or holding `{ } , " \` or whitespace, with `"` and `\`
/// escaped; a NULL element is `NULL`.
pub(super) fn array_text(items: &[Value]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|v| match v.as_str() {
            None => "NULL".to_string(),
            Some(s) => {
                let quote = s.is_empty()
                    || s.eq_ignore_ascii_case("null")
                    || s.chars()
                        .any(|c| "{},\"\\".contains(c) || c.is_ascii_whitespace() || c == '\x0b');
                if quote {
                    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
                } else {
                    s.to_string()
                }
            }
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// pg_trgm's trigram set of a string: words are maximal runs of alphanumeric characters,
/// lowercased and padded `"  word "`; every 3-character window of each.
fn trigrams(s: &str) -> HashSet<[char; 3]> {
    let mut out = HashSet::new();
    for word in s
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut padded = vec![' ', ' '];
        for c in word.chars() {
            let mut low = c.to_lowercase();
            padded.push(match (low.next(), low.next()) {
                (Some(l), None) => l,
                _ => c,
            });
        }
        padded.push(' ');
        for w in padded.windows(3) {
            out.insert([w[0], w[1], w[2]]);
        }
    }
    out
}

/// pg_trgm `similarity(a, b)`: shared trigrams over the union, in float4 (0 when either set is
/// empty).
pub(super) fn similarity(a: &str, b: &str) -> f32 {
    let (ta, tb) = (trigrams(a), trigrams(b));
    if ta.is_empty() || tb.is_empty() {
        return 0.0;
    }
    let common = ta.intersection(&tb).count();
    common as f32 / (ta.len() + tb.len() - common) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_matches_pg_trgm() {
        assert_eq!(similarity("Agrotis", "Agro"), 4.0f32 / 9.0);
        assert_eq!(similarity("Agrotini", "Agro"), 0.4f32);
        assert_eq!(similarity("Agrotis segetum", "Agro"), 4.0f32 / 17.0);
        assert_eq!(
            similarity("Agrotis ipsilon", "agro"),
            similarity("Agrotis segetum", "Agro")
        );
        assert_eq!(
            similarity(r#"{"Moths and butterflies"}"#, "moth"),
            4.0f32 / 23.0
        );
        assert_eq!(similarity("{}", "in"), 0.0);
    }

    #[test]
    fn array_text_quotes_like_array_out() {
        let a = json!([
            "Moths and butterflies",
            "plain",
            "",
            "null",
            "a\"b",
            "c\\d",
            null
        ]);
        let a = a.as_array().map(Vec::as_slice).unwrap_or(&[]);
        assert_eq!(
            array_text(a),
            r#"{"Moths and butterflies",plain,"","null","a\"b","c\\d",NULL}"#
        );
        assert_eq!(array_text(&[]), "{}");
    }

    #[test]
    fn upper_maps_characters_one_to_one() {
        assert_eq!(pg_upper("straße"), "STRAßE");
        assert_eq!(pg_upper("agro%_"), "AGRO%_");
    }

    #[test]
    fn bounded_sort_ties_follow_postgres_top_n() {
        // ORDER BY sim DESC LIMIT 3 over 29 rows (bounded heap) and over 6 rows (quicksort):
        // the orders td_work/pgsort.py's pg_sort_bounded gives.
        let sims = [
            0.4, 0.4, 0.5, 0.1, 0.25, 0.5, 0.25, 0.5, 0.4, 0.1, 0.25, 0.1, 0.5, 0.25, 0.5, 0.25,
            0.1, 0.4, 0.25, 0.1, 0.25, 0.5, 0.25, 0.1, 0.25, 0.25, 0.5, 0.5, 0.25,
        ];
        let rows: Vec<(f32, i64)> = sims
            .iter()
            .enumerate()
            .map(|(i, s)| (*s as f32, i as i64 + 1))
            .collect();
        let desc =
            |a: &(f32, i64), b: &(f32, i64)| b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal);
        let ids = |v: Vec<(f32, i64)>| v.iter().map(|r| r.1).collect::<Vec<_>>();
        assert_eq!(ids(pg_top_n(&rows, 3, desc)), vec![6, 3, 8]);
        assert_eq!(ids(pg_top_n(&rows[..6], 3, desc)), vec![3, 6, 1]);
    }
}
