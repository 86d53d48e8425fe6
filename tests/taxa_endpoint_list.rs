//! `GET /api/v2/taxa/` rules the oracle fixture does not pin down (its data has no excluded
//! taxon below a counted one, and never asks for `include_unobserved=false`), on a tiny
//! snapshot.

mod common;

use common::{call, Tiny, T0};
use serde_json::{json, Value};

/// Project 1 excludes Agrotis (3) and so its species (4); verified occurrences of 4 and 2.
fn world() -> Tiny {
    let mut t = Tiny::new();
    t.b.add(
        "main_project_default_filters_exclude_taxa",
        json!({"id": 1, "project_id": 1, "taxon_id": 3}),
    );
    t.simple(10, 4, 0.9);
    t.simple(11, 2, 0.8);
    t.simple(12, 2, 0.7);
    t.ident(10, Some(2), Some(4), false, T0);
    t.ident(11, Some(2), Some(2), false, T0);
    t.ident(12, Some(2), Some(2), true, T0); // withdrawn: not verified
    t
}

fn by_id(body: &Value, id: i64) -> Value {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn verified_count_rolls_up_only_occurrences_the_default_taxa_keep() {
    let t = world();
    let (_d, e) = t.engine().await;
    let r = call(&e, "/api/v2/taxa/?project_id=1&include_unobserved=1").await;
    assert_eq!(r.status, 200);
    // Agrotis ipsilon is excluded: neither listed nor counted in its ancestors' verified_count.
    assert_eq!(by_id(&r.body, 4), Value::Null);
    let noctuidae = by_id(&r.body, 2);
    assert_eq!(noctuidae["occurrences_count"], 2);
    assert_eq!(noctuidae["verified_count"], 1);
    assert_eq!(noctuidae["best_determination_score"], json!(0.8));
    assert_eq!(by_id(&r.body, 1)["verified_count"], 1);
    assert_eq!(by_id(&r.body, 1)["occurrences_count"], 0);
    let r = call(
        &e,
        "/api/v2/taxa/?project_id=1&include_unobserved=1&apply_defaults=false",
    )
    .await;
    assert_eq!(by_id(&r.body, 1)["verified_count"], 2);
    assert_eq!(by_id(&r.body, 4)["verified_count"], 1);
}

#[tokio::test]
async fn include_unobserved_is_any_nonempty_value() {
    let t = world();
    let (_d, e) = t.engine().await;
    let count = |url: &'static str| {
        let e = &e;
        async move { call(e, url).await.body["count"].clone() }
    };
    // Observed and kept by the defaults: 2 only. Unobserved but kept: 1, 5, 6, 7.
    assert_eq!(count("/api/v2/taxa/?project_id=1").await, 1);
    assert_eq!(
        count("/api/v2/taxa/?project_id=1&include_unobserved=").await,
        1
    );
    assert_eq!(
        count("/api/v2/taxa/?project_id=1&include_unobserved=false").await,
        5
    );
    assert_eq!(
        count("/api/v2/taxa/?project_id=1&include_unobserved=0").await,
        5
    );
}

#[tokio::test]
async fn an_ordering_on_a_method_without_project_fails_only_when_the_page_is_read() {
    let t = world();
    let (_d, e) = t.engine().await;
    let r = call(&e, "/api/v2/taxa/?ordering=name,-last_detected").await;
    assert_eq!(r.status, 500);
    let r = call(&e, "/api/v2/taxa/?ordering=-last_detected&offset=100").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["count"], 7);
    assert_eq!(r.body["results"], json!([]));
    // occurrences_count is annotated (as NULL) without a project: no error.
    let r = call(&e, "/api/v2/taxa/?ordering=-occurrences_count").await;
    assert_eq!(r.status, 200);
    assert_eq!(by_id(&r.body, 2)["occurrences_count"], Value::Null);
}
