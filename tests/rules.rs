//! Every rule of spec §3–§5 on a tiny snapshot, with the exact output asserted.

mod common;

use common::{call, call_as, ids, Tiny, T0};
use occlens::api::request::Requester;
use serde_json::json;

const LIST: &str = "/api/v2/occurrences/?project_id=1&limit=100";

#[tokio::test]
async fn validity_needs_a_determination_and_a_real_detection() {
    let mut t = Tiny::new();
    t.simple(1, 4, 0.9);
    t.occ(2, None, None); // no determination
    t.det(2, Some(T0), None, false);
    t.occ(3, Some(4), Some(0.9)); // only a null marker
    t.det(3, Some(T0), None, true);
    t.occ(4, Some(4), Some(0.9)); // no detections at all
    t.occ(5, Some(4), Some(0.9)); // null marker + real: valid, both counted
    t.det(5, Some("2023-06-11T01:30:00Z"), None, true);
    t.det(5, Some("2023-06-11T02:00:00Z"), Some("x.jpg"), false);
    let (_d, e) = t.engine().await;
    let r = call(&e, LIST).await;
    assert_eq!(ids(&r.body), vec![1, 5]);
    assert_eq!(r.body["count"], 2);
    assert_eq!(r.body["results"][1]["detections_count"], 2);
    assert_eq!(
        r.body["results"][1]["first_appearance_timestamp"],
        "2023-06-10T21:30:00"
    );
    for id in [2, 3, 4] {
        let d = call(&e, &format!("/api/v2/occurrences/{id}/")).await;
        assert_eq!(
            (d.status, d.body.clone()),
            (404, json!({"detail": "Not found."})),
            "{id}"
        );
    }
    let d = call(&e, "/api/v2/occurrences/5/").await;
    assert_eq!(d.body["detections"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn best_prediction_p_keeps_each_algorithms_max_then_terminal_score_id() {
    let mut t = Tiny::new();
    // X non-terminal 0.95 vs Y terminal 0.80: Y (the exports test case).
    let d = t.simple(1, 4, 0.8);
    t.cls(d, Some(2), Some(1), Some(0.95), false);
    let y = t.cls(d, Some(3), Some(4), Some(0.80), true);
    // Algorithm 3's max is non-terminal 0.9; its terminal 0.7 is not a candidate; algorithm 4's 0.6 wins.
    let d = t.simple(2, 4, 0.6);
    t.cls(d, Some(3), Some(1), Some(0.9), false);
    t.cls(d, Some(3), Some(4), Some(0.7), true);
    let b = t.cls(d, Some(4), Some(6), Some(0.6), true);
    // A tie between terminal rows of two algorithms: the higher id wins; NULL scores never do.
    let d = t.simple(3, 4, 0.9);
    t.cls(d, Some(3), Some(4), Some(0.9), true);
    let tie = t.cls(d, Some(4), Some(6), Some(0.9), true);
    t.cls(d, None, Some(7), None, true);
    // Only NULL scores: no best prediction. A NULL-taxon winner is kept, with taxon null.
    let d = t.simple(4, 4, 0.9);
    t.cls(d, Some(3), Some(4), None, true);
    let d = t.simple(5, 4, 0.9);
    t.cls(d, Some(3), Some(4), Some(0.5), true);
    let nt = t.cls(d, Some(4), None, Some(0.93), true);
    let (_d, e) = t.engine().await;
    let r = call(&e, LIST).await.body;
    let bmp = |i: usize| r["results"][i]["best_machine_prediction"].clone();
    let pred_id = |i: usize| r["results"][i]["determination_details"]["prediction"]["id"].clone();
    assert_eq!(pred_id(0), json!(y));
    assert_eq!(bmp(0)["score"], json!(0.8));
    assert_eq!(bmp(0)["algorithm"]["id"], json!(3));
    assert_eq!(pred_id(1), json!(b));
    assert_eq!(bmp(1)["taxon"]["id"], json!(6));
    assert_eq!(pred_id(2), json!(tie));
    assert_eq!(bmp(3), json!(null));
    assert_eq!(pred_id(3), json!(null));
    assert_eq!(pred_id(4), json!(nt));
    assert_eq!(bmp(4)["taxon"], json!(null));
    assert_eq!(bmp(4)["score"], json!(0.93));
}

#[tokio::test]
async fn detail_predictions_are_the_variant_m_set_newest_first() {
    let mut t = Tiny::new();
    let d = t.simple(1, 4, 0.9);
    let a1 = t.cls(d, Some(3), Some(4), Some(0.9), true);
    let a2 = t.cls(d, Some(3), Some(3), Some(0.6), true); // not its algorithm's max, but = B's max
    let b1 = t.cls(d, Some(4), Some(6), Some(0.6), true);
    t.cls(d, Some(4), Some(6), Some(0.1), true);
    t.cls(d, Some(2), Some(1), None, false); // an all-NULL algorithm contributes nothing
    let (_d, e) = t.engine().await;
    let r = call(&e, "/api/v2/occurrences/1/").await.body;
    let preds: Vec<i64> = r["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(preds, vec![b1, a2, a1]);
    assert_eq!(r["determination_id"], 4);
}

/// Scores equal as numbers are equal: -0.0 matches an algorithm's max of 0.0 (and a max of
/// -0.0 matches 0.0), in the fast formulation and in the window reference.
#[tokio::test]
async fn detail_predictions_match_negative_zero_to_zero() {
    let mut t = Tiny::new();
    let d = t.simple(1, 4, 0.9);
    let a = t.cls(d, Some(3), Some(4), Some(0.0), true); // algorithm 3's max: 0.0
    let b1 = t.cls(d, Some(4), Some(6), Some(0.9), true); // algorithm 4's max
    let b2 = t.cls(d, Some(4), Some(6), Some(-0.0), true); // = 0.0, algorithm 3's max
    t.cls(d, Some(4), Some(6), Some(0.5), true); // no algorithm's max
    let d2 = t.simple(2, 4, 0.9);
    let c1 = t.cls(d2, Some(3), Some(4), Some(-0.0), true); // algorithm 3's max: -0.0
    let c2 = t.cls(d2, Some(4), Some(6), Some(0.0), true); // = -0.0 (and algorithm 4's max)
    let (dir, fast) = t.engine().await;
    let root = tempfile::tempdir().unwrap();
    let window = common::cached_engine_with(
        dir.path(),
        root.path(),
        occlens::engine::cache::Mode::Off,
        None,
        occlens::engine::catalog::Semantics::Window,
    )
    .await;
    for e in [&fast, &window] {
        let preds = |body: serde_json::Value| -> Vec<i64> {
            body["predictions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_i64().unwrap())
                .collect()
        };
        assert_eq!(
            preds(call(e, "/api/v2/occurrences/1/").await.body),
            vec![b2, b1, a]
        );
        assert_eq!(
            preds(call(e, "/api/v2/occurrences/2/").await.body),
            vec![c2, c1]
        );
    }
}

#[tokio::test]
async fn best_identification_is_latest_non_withdrawn_with_id_tiebreak() {
    let mut t = Tiny::new();
    let d = t.simple(1, 4, 1.0);
    t.cls(d, Some(3), Some(4), Some(0.9), true);
    t.ident(1, Some(3), Some(6), false, "2024-05-01T12:00:00Z");
    let winner = t.ident(1, Some(2), Some(4), false, "2024-05-01T12:00:00Z");
    t.ident(1, Some(3), Some(7), true, "2024-06-01T00:00:00Z"); // withdrawn, newest
                                                                // A NULL-taxon identification still wins and hides the prediction.
    let d = t.simple(2, 4, 0.9);
    t.cls(d, Some(3), Some(4), Some(0.9), true);
    let comment_only = t.ident(2, None, None, false, "2024-05-01T12:00:00Z");
    let (_d, e) = t.engine().await;
    let r = call(&e, LIST).await.body;
    let dd = &r["results"][0]["determination_details"];
    assert_eq!(dd["identification"]["id"], json!(winner));
    assert_eq!(dd["prediction"], json!(null));
    assert_eq!(
        r["results"][0]["identifications"].as_array().unwrap().len(),
        3
    );
    assert_eq!(
        r["results"][0]["identifications"][0]["withdrawn"],
        json!(true)
    );
    let dd = &r["results"][1]["determination_details"];
    assert_eq!(dd["identification"]["id"], json!(comment_only));
    assert_eq!(dd["identification"]["user"], json!(null));
    assert_eq!(dd["identification"]["taxon"], json!(null));
    assert_eq!(dd["prediction"], json!(null));
    assert!(r["results"][1]["best_machine_prediction"].is_object());
}

#[tokio::test]
async fn aggregates_use_local_time_of_day_and_real_elapsed_time() {
    let mut t = Tiny::new();
    // 23:50 and next-day 00:10 New York: first_appearance_time is the earliest time of day.
    t.occ(1, Some(4), Some(0.9));
    t.det(1, Some("2023-06-11T03:50:00Z"), Some("a.jpg"), false);
    t.det(1, Some("2023-06-11T04:10:00Z"), Some("b.jpg"), false);
    t.det(1, None, Some("c.jpg"), false);
    // DST fall-back: 00:20 EDT → 02:25 EST is 3 h 05 of real time.
    t.occ(2, Some(4), Some(0.9));
    t.det(2, Some("2023-11-05T04:20:00Z"), None, false);
    t.det(2, Some("2023-11-05T07:25:00Z"), None, false);
    let (_d, e) = t.engine().await;
    let r = call(&e, LIST).await.body;
    let o = &r["results"][0];
    assert_eq!(o["first_appearance_timestamp"], "2023-06-10T23:50:00");
    assert_eq!(o["first_appearance_time"], "00:10:00");
    assert_eq!(o["duration"], "1200.0");
    assert_eq!(o["duration_label"], "20 minutes");
    assert_eq!(o["detections_count"], 3);
    // List cover image: earliest timestamp with a path (NULL timestamps last); detail: newest first, NULL first.
    assert_eq!(o["detection_images"], json!(["/media/a.jpg"]));
    let d = call(&e, "/api/v2/occurrences/1/").await.body;
    assert_eq!(
        d["detection_images"],
        json!(["/media/c.jpg", "/media/b.jpg", "/media/a.jpg"])
    );
    assert_eq!(d["detections"][0]["timestamp"], json!(null));
    let o = &r["results"][1];
    assert_eq!(o["duration"], "11100.0");
    assert_eq!(o["duration_label"], "3 hours 5 min");
    assert_eq!(o["first_appearance_timestamp"], "2023-11-05T00:20:00");
    assert_eq!(o["detection_images"], json!([]));
}

fn defaults_world() -> Tiny {
    let mut t = Tiny::new();
    t.b.add(
        "main_project",
        json!({"id": 2, "name": "P2", "default_filters_score_threshold": 0.5}),
    );
    t.b.add(
        "main_project_default_filters_include_taxa",
        json!({"id": 1, "project_id": 2, "taxon_id": 2}),
    );
    t.b.add(
        "main_project_default_filters_include_taxa",
        json!({"id": 2, "project_id": 2, "taxon_id": 5}),
    );
    t.b.add(
        "main_project_default_filters_exclude_taxa",
        json!({"id": 1, "project_id": 2, "taxon_id": 6}),
    );
    let rows = [
        (1, 4, Some(0.5)),
        (2, 4, Some(0.4999)),
        (3, 6, Some(0.9)),
        (4, 5, Some(0.9)),
        (5, 7, Some(0.9)),
        (6, 3, None),
    ];
    for (id, taxon, score) in rows {
        t.b.add("main_occurrence", json!({"id": id, "project_id": 2, "determination_id": taxon, "determination_score": score}));
        t.det(id, Some(T0), None, false);
    }
    t
}

#[tokio::test]
async fn project_default_filters_threshold_include_exclude() {
    let (_d, e) = defaults_world().engine().await;
    // 0.5 passes (>=), 0.4999 fails, Tipula is excluded below Diptera, Orphan is not included, NULL score fails.
    assert_eq!(
        ids(&call(&e, "/api/v2/occurrences/?project_id=2").await.body),
        vec![1, 4]
    );
    for off in ["false", "False", "0"] {
        let r = call(
            &e,
            &format!("/api/v2/occurrences/?project_id=2&apply_defaults={off}"),
        )
        .await
        .body;
        assert_eq!(ids(&r), vec![1, 2, 3, 4, 5, 6], "{off}");
    }
    assert_eq!(
        ids(
            &call(&e, "/api/v2/occurrences/?project_id=2&apply_defaults=maybe")
                .await
                .body
        ),
        vec![1, 4]
    );
    // classification_threshold has no effect.
    assert_eq!(
        ids(&call(
            &e,
            "/api/v2/occurrences/?project_id=2&classification_threshold=0.1"
        )
        .await
        .body),
        vec![1, 4]
    );
    // Detail: defaults apply only with project_id.
    assert_eq!(
        call(&e, "/api/v2/occurrences/3/?project_id=2").await.status,
        404
    );
    assert_eq!(call(&e, "/api/v2/occurrences/3/").await.status, 200);
    assert_eq!(
        call(
            &e,
            "/api/v2/occurrences/3/?project_id=2&apply_defaults=false"
        )
        .await
        .status,
        200
    );
    assert_eq!(
        call(&e, "/api/v2/occurrences/3/?project_id=999")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn request_errors_have_antennas_statuses() {
    let (_d, e) = defaults_world().engine().await;
    let r = call(&e, "/api/v2/occurrences/").await;
    assert_eq!(
        (r.status, r.body),
        (400, json!({"project_id": ["This field is required."]}))
    );
    assert_eq!(
        call(&e, "/api/v2/occurrences/?project_id=abc").await.status,
        400
    );
    assert_eq!(
        call(&e, "/api/v2/occurrences/?project_id=0").await.status,
        404
    );
    assert_eq!(
        call(&e, "/api/v2/occurrences/?project_id=99").await.status,
        404
    );
    let r = call(&e, "/api/v2/occurrences/?project_id=2&taxon=99").await;
    assert_eq!(
        (r.status, r.body),
        (404, json!({"detail": "No taxon found with id 99"}))
    );
    assert_eq!(
        call(&e, "/api/v2/occurrences/?project_id=2&event=99")
            .await
            .status,
        400
    );
    assert_eq!(
        call(&e, "/api/v2/occurrences/?project_id=2&deployment=99")
            .await
            .status,
        400
    );
    assert_eq!(
        call(
            &e,
            "/api/v2/occurrences/?project_id=2&determination__rank=species"
        )
        .await
        .status,
        400
    );
    assert_eq!(
        call(
            &e,
            "/api/v2/occurrences/?project_id=2&date_start=2023-06-12&date_end=2023-06-11"
        )
        .await
        .status,
        400
    );
    let r = call(&e, "/api/v2/occurrences/?project_id=2&offset=-1&limit=0").await;
    assert_eq!((r.status, r.body["next"].clone()), (200, json!(null)));
}

#[tokio::test]
async fn taxon_and_taxa_list_filters_use_parents_json() {
    let mut t = defaults_world();
    t.b.add("main_taxalist", json!({"id": 1, "name": "Agrotis"}));
    t.b.add(
        "main_taxalist_taxa",
        json!({"id": 1, "taxalist_id": 1, "taxon_id": 3}),
    );
    t.b.add("main_taxalist", json!({"id": 2, "name": "empty"}));
    let (_d, e) = t.engine().await;
    let q = |s: &str| format!("/api/v2/occurrences/?project_id=2&apply_defaults=false&{s}");
    assert_eq!(ids(&call(&e, &q("taxon=1")).await.body), vec![1, 2, 6]);
    assert_eq!(
        ids(&call(&e, &q("determination=5&taxon=1")).await.body),
        vec![3, 4]
    );
    assert_eq!(
        ids(&call(&e, &q("determination__rank=SPECIES")).await.body),
        vec![1, 2, 3, 5]
    );
    assert_eq!(
        ids(&call(&e, &q("taxa_list_id=1")).await.body),
        vec![1, 2, 6]
    );
    assert_eq!(
        ids(&call(&e, &q("not_taxa_list_id=1")).await.body),
        vec![3, 4, 5]
    );
    // An existing empty list matches nothing / removes nothing; a missing list is no filter.
    assert_eq!(
        ids(&call(&e, &q("taxa_list_id=2")).await.body),
        Vec::<i64>::new()
    );
    assert_eq!(ids(&call(&e, &q("not_taxa_list_id=2")).await.body).len(), 6);
    assert_eq!(ids(&call(&e, &q("taxa_list_id=77")).await.body).len(), 6);
}

#[tokio::test]
async fn verified_filters_count_withdrawn_and_userless_identifications() {
    let mut t = Tiny::new();
    for id in 1..=4 {
        t.simple(id, 4, 0.9);
    }
    t.ident(1, Some(3), Some(4), true, "2024-01-01T00:00:00Z"); // withdrawn only
    t.ident(2, None, Some(4), false, "2024-01-01T00:00:00Z"); // no user
    t.ident(3, Some(2), Some(4), false, "2024-01-01T00:00:00Z");
    let (_d, e) = t.engine().await;
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&verified=true")).await.body),
        vec![1, 2, 3]
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&verified=maybe")).await.body),
        vec![1, 2, 3]
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&verified=false")).await.body),
        vec![4]
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&verified=")).await.body),
        vec![4]
    );
    let alice = Requester::User(3);
    assert_eq!(
        ids(
            &call_as(&e, &format!("{LIST}&verified_by_me=true"), alice.clone())
                .await
                .body
        ),
        vec![1]
    );
    assert_eq!(
        ids(&call_as(&e, &format!("{LIST}&verified_by_me=false"), alice)
            .await
            .body),
        vec![2, 3, 4]
    );
    // Ignored for anonymous requesters.
    assert_eq!(
        ids(&call_as(
            &e,
            &format!("{LIST}&verified_by_me=true"),
            Requester::Anonymous
        )
        .await
        .body)
        .len(),
        4
    );
}

#[tokio::test]
async fn algorithm_filters_are_complements_and_do_not_inflate_counts() {
    let mut t = Tiny::new();
    let d = t.simple(1, 4, 0.9); // detector 1, classifier 3 three times
    for _ in 0..3 {
        t.cls(d, Some(3), Some(4), Some(0.9), true);
    }
    let d = t.simple(2, 4, 0.9); // detector 1 only
    let _ = d;
    let d = t.simple(3, 4, 0.9);
    t.cls(d, Some(4), Some(4), Some(0.9), true);
    let (_d, e) = t.engine().await;
    let r = call(&e, &format!("{LIST}&algorithm=3")).await.body;
    assert_eq!((ids(&r), r["count"].clone()), (vec![1], json!(1)));
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&algorithm=3&algorithm=4"))
            .await
            .body),
        vec![1, 3]
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&not_algorithm=3")).await.body),
        vec![2, 3]
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&algorithm=1")).await.body),
        vec![1, 2, 3]
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&not_algorithm=1")).await.body),
        Vec::<i64>::new()
    );
}

#[tokio::test]
async fn date_and_capture_filters_are_independent_semi_joins() {
    let mut t = Tiny::new();
    t.b.add(
        "main_sourceimage",
        json!({"id": 2, "path": "b.jpg", "deployment_id": 1, "project_id": 1}),
    );
    t.b.add(
        "main_sourceimagecollection",
        json!({"id": 1, "name": "c", "project_id": 1}),
    );
    t.b.add(
        "main_sourceimagecollection_images",
        json!({"id": 1, "sourceimagecollection_id": 1, "sourceimage_id": 2}),
    );
    // Occurrence 1 spans 2023-06-10 and 2023-06-12 (New York), none on the 11th.
    t.occ(1, Some(4), Some(0.9));
    t.det(1, Some("2023-06-11T03:59:00Z"), None, false); // 23:59 on the 10th
    t.det(1, Some("2023-06-12T04:00:00Z"), None, false); // 00:00 on the 12th
    t.simple(2, 4, 0.9); // the 10th
    t.occ(3, Some(4), Some(0.9));
    t.det(3, Some(T0), None, false);
    t.b.add(
        "main_detection",
        json!({"id": 100, "occurrence_id": 3, "source_image_id": 2}),
    ); // null marker on capture 2
    let (_d, e) = t.engine().await;
    assert_eq!(
        ids(&call(
            &e,
            &format!("{LIST}&date_start=2023-06-11&date_end=2023-06-11")
        )
        .await
        .body),
        vec![1]
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&date_start=2023-06-11"))
            .await
            .body),
        vec![1]
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&date_end=2023-06-10")).await.body),
        vec![1, 2, 3]
    );
    // The other forms DRF's DateField reads (date.fromisoformat, Django's pattern): the same
    // dates; years Python cannot hold are 400.
    for (start, end) in [("20230611", "2023-6-11"), ("2023-W23-7", "2023W237")] {
        assert_eq!(
            ids(
                &call(&e, &format!("{LIST}&date_start={start}&date_end={end}"))
                    .await
                    .body
            ),
            vec![1],
            "{start} {end}"
        );
    }
    for bad in ["-0001-01-01", "%2B10000-01-01", "0000-01-01"] {
        let r = call(&e, &format!("{LIST}&date_start={bad}")).await;
        assert_eq!(r.status, 400, "{bad}");
    }
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&collection_id=1")).await.body),
        vec![3]
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&collection=1&collection_id=0"))
            .await
            .body)
        .len(),
        3
    );
    assert_eq!(
        ids(&call(&e, &format!("{LIST}&detections__source_image=2"))
            .await
            .body),
        vec![3]
    );
}

#[tokio::test]
async fn orderings_are_nulls_last_both_ways_with_id_tiebreak_and_pages_link() {
    let mut t = Tiny::new();
    for (id, score) in [
        (1, Some(0.5)),
        (2, None),
        (3, Some(0.9)),
        (4, Some(0.5)),
        (5, Some(0.7)),
    ] {
        t.occ(id, Some(4), score);
        t.det(id, Some(T0), None, false);
    }
    let (_d, e) = t.engine().await;
    let q =
        |o: &str| format!("/api/v2/occurrences/?project_id=1&apply_defaults=false&ordering={o}");
    assert_eq!(
        ids(&call(&e, &q("-determination_score")).await.body),
        vec![3, 5, 1, 4, 2]
    );
    assert_eq!(
        ids(&call(&e, &q("determination_score")).await.body),
        vec![1, 4, 5, 3, 2]
    );
    assert_eq!(ids(&call(&e, &q("bogus")).await.body), vec![1, 2, 3, 4, 5]);
    assert_eq!(
        ids(&call(&e, &q("-created_at,bogus")).await.body),
        vec![5, 4, 3, 2, 1]
    );
    // Names in the database collation's order (case first ignored), not bytes': "aphid"
    // between "Agrotis ipsilon" and "Diptera" (bytes would put it last).
    let mut t = Tiny::new();
    t.b.add(
        "main_taxon",
        json!({"id": 8, "name": "aphid", "rank": "SPECIES", "parents_json": []}),
    );
    for (id, taxon) in [(1, 5), (2, 8), (3, 4), (4, 6)] {
        t.occ(id, Some(taxon), Some(0.5));
        t.det(id, Some(T0), None, false);
    }
    let (_d2, e2) = t.engine().await;
    assert_eq!(
        ids(&call(&e2, &q("determination__name")).await.body),
        vec![3, 2, 1, 4]
    );
    assert_eq!(
        ids(&call(&e2, &q("-determination__name")).await.body),
        vec![4, 1, 2, 3]
    );
    let r = call(&e, "/api/v2/occurrences/?project_id=1&apply_defaults=false&ordering=-determination_score&limit=2&offset=2").await.body;
    assert_eq!(ids(&r), vec![1, 4]);
    assert_eq!(r["next"], "http://testserver/api/v2/occurrences/?apply_defaults=false&limit=2&offset=4&ordering=-determination_score&project_id=1");
    assert_eq!(r["previous"], "http://testserver/api/v2/occurrences/?apply_defaults=false&limit=2&ordering=-determination_score&project_id=1");
    let r = call(
        &e,
        "/api/v2/occurrences/?project_id=1&limit=2&offset=3&apply_defaults=0",
    )
    .await
    .body;
    assert_eq!(
        r["previous"],
        "http://testserver/api/v2/occurrences/?apply_defaults=0&limit=2&offset=1&project_id=1"
    );
    assert_eq!(r["next"], json!(null));
    // An offset beyond 64 bits is an integer too (spec §5.6): past the end, and the previous
    // link is exact.
    let r = call(
        &e,
        "/api/v2/occurrences/?project_id=1&limit=2&offset=99999999999999999999",
    )
    .await
    .body;
    assert_eq!(ids(&r), Vec::<i64>::new());
    assert_eq!(
        r["previous"],
        "http://testserver/api/v2/occurrences/?limit=2&offset=99999999999999999997&project_id=1"
    );
    // The default filters hide the NULL score (threshold 0.0 still fails NULL).
    assert_eq!(
        ids(&call(&e, "/api/v2/occurrences/?project_id=1").await.body),
        vec![1, 3, 4, 5]
    );
    let r = call(
        &e,
        "/api/v2/occurrences/?project_id=1&apply_defaults=false&offset=100000",
    )
    .await
    .body;
    assert_eq!((r["count"].clone(), ids(&r)), (json!(5), vec![]));
}

#[tokio::test]
async fn visibility_and_permissions_depend_on_the_requester() {
    let mut t = Tiny::new();
    t.b.add(
        "main_project",
        json!({"id": 2, "name": "Draft", "draft": true, "owner_id": 2}),
    );
    t.b.add(
        "main_userprojectmembership",
        json!({"id": 1, "user_id": 3, "project_id": 2}),
    );
    t.b.add(
        "main_deployment",
        json!({"id": 2, "name": "D2", "project_id": 2}),
    );
    t.simple(1, 4, 0.9);
    t.b.add("main_occurrence", json!({"id": 2, "project_id": 2, "deployment_id": 2, "determination_id": 4, "determination_score": 0.9}));
    t.det(2, Some(T0), None, false);
    t.b.add(
        "main_occurrence",
        json!({"id": 3, "project_id": null, "determination_id": 4, "determination_score": 0.9}),
    );
    t.det(3, Some(T0), None, false);
    let (_d, e) = t.engine().await;
    let draft = "/api/v2/occurrences/?project_id=2";
    assert_eq!(
        call_as(&e, draft, Requester::Anonymous).await.body["count"],
        0
    );
    assert_eq!(
        call_as(&e, draft, Requester::User(3)).await.body["count"],
        1
    );
    assert_eq!(
        call_as(&e, draft, Requester::User(4)).await.body["count"],
        0
    );
    let su = call(&e, draft).await.body;
    assert_eq!(su["count"], 1);
    assert_eq!(su["user_permissions"], json!(["create"]));
    assert_eq!(su["results"][0]["user_permissions"], json!(["update"]));
    let anon = call_as(&e, LIST, Requester::Anonymous).await.body;
    assert_eq!(anon["user_permissions"], json!([]));
    assert_eq!(anon["results"][0]["user_permissions"], json!([]));
    assert_eq!(
        anon["results"][0]["determination"]["user_permissions"],
        json!([])
    );
    // A project-less occurrence: invisible to others; Antenna's superuser detail crashes.
    assert_eq!(
        call_as(&e, "/api/v2/occurrences/3/", Requester::Anonymous)
            .await
            .status,
        404
    );
    assert_eq!(call(&e, "/api/v2/occurrences/3/").await.status, 500);
    assert_eq!(
        call(&e, "/api/v2/occurrences/3/?project_id=1").await.status,
        404
    );
}

#[tokio::test]
async fn identifications_may_be_deleted_by_their_user_or_a_project_manager() {
    // Project 1's owner (user 2) is its Project manager (Antenna assigns the role to a
    // project's owner); superuser status alone grants no `delete` (spec §4.5).
    let mut t = Tiny::new();
    t.b.add(
        "users_user",
        json!({"id": 4, "name": "Root", "email": "root@t", "image": ""}),
    );
    t.b.add(
        "users_user",
        json!({"id": 5, "name": "Eve", "email": "eve@t", "image": "avatars/eve b.png"}),
    );
    t.b.add(
        "users_user",
        json!({"id": 6, "name": "Sam", "email": "sam@t", "image": "https://cdn.test/sam.png"}),
    );
    t.simple(1, 4, 0.9);
    t.ident(1, Some(2), Some(4), false, "2023-06-12T01:00:00Z");
    t.ident(1, Some(3), Some(4), false, "2023-06-13T01:00:00Z");
    t.ident(1, Some(5), Some(4), false, "2023-06-14T01:00:00Z");
    t.ident(1, Some(6), Some(4), false, "2023-06-15T01:00:00Z");
    let (_d, e) = t.engine().await;
    let seen = |body: &serde_json::Value| -> Vec<(i64, serde_json::Value)> {
        body["identifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["user"]["id"].as_i64().unwrap(),
                    i["user_permissions"].clone(),
                )
            })
            .collect()
    };
    let (del, none) = (json!(["delete"]), json!([]));
    for (who, identifications, occurrence) in [
        (
            Requester::Superuser(Some(2)),
            [del.clone(), del.clone(), del.clone(), del.clone()],
            json!(["update"]),
        ),
        (
            Requester::Superuser(Some(4)),
            [none.clone(), none.clone(), none.clone(), none.clone()],
            json!(["update"]),
        ),
        (
            Requester::Superuser(None),
            [none.clone(), none.clone(), none.clone(), none.clone()],
            json!(["update"]),
        ),
        (
            Requester::User(2),
            [del.clone(), del.clone(), del.clone(), del.clone()],
            json!(["update"]),
        ),
        (
            Requester::User(3),
            [none.clone(), none.clone(), del.clone(), none.clone()],
            json!([]),
        ),
    ] {
        let body = call_as(&e, "/api/v2/occurrences/1/", who.clone())
            .await
            .body;
        let expected: Vec<(i64, serde_json::Value)> =
            [6, 5, 3, 2].into_iter().zip(identifications).collect();
        assert_eq!(seen(&body), expected, "{who:?}");
        assert_eq!(body["user_permissions"], occurrence, "{who:?}");
        let list = call_as(&e, "/api/v2/occurrences/?project_id=1", who.clone())
            .await
            .body;
        assert_eq!(seen(&list["results"][0]), expected, "{who:?} (list)");
        assert_eq!(
            list["results"][0]["user_permissions"], occurrence,
            "{who:?} (list)"
        );
    }
    // The owner (Project manager) also holds every deployment and capture permission.
    let owner = call_as(&e, "/api/v2/occurrences/1/", Requester::User(2))
        .await
        .body;
    assert_eq!(
        owner["deployment"]["user_permissions"],
        json!(["update", "regroup", "delete", "sync"])
    );
    assert_eq!(
        owner["detections"][0]["capture"]["user_permissions"],
        json!(["star", "update", "run_single_image_ml_job", "delete"])
    );
    // A user's avatar: API_BASE + its media URL, an absolute URL as it is, null when empty
    // or absent (§4.4, user shape).
    let body = call(&e, "/api/v2/occurrences/1/").await.body;
    let images: Vec<(i64, serde_json::Value)> = body["identifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["user"]["id"].as_i64().unwrap(),
                i["user"]["image"].clone(),
            )
        })
        .collect();
    assert_eq!(
        images,
        [
            (6, json!("https://cdn.test/sam.png")),
            (5, json!("http://testserver/media/avatars/eve%20b.png")),
            (3, json!(null)),
            (2, json!(null)),
        ]
    );
}

#[tokio::test]
async fn shapes_keys_urls_and_values() {
    let mut t = Tiny::new();
    t.occ(1, Some(4), Some(1.0));
    let d = t.det(
        1,
        Some("2023-06-11T01:00:00.000005Z"),
        Some("/crops/leading slash é.jpg"),
        false,
    );
    t.cls(d, Some(3), Some(4), Some(1e-05), true);
    let (_d, e) = t.engine().await;
    let r = call(&e, "/api/v2/occurrences/1/").await;
    let text = occlens::render::pyfmt::to_json(&r.body);
    assert!(text.contains(r#""determination_score":1.0"#), "{text}");
    assert!(text.contains(r#""score":1e-05"#), "{text}");
    let o = r.body.as_object().unwrap();
    let keys: Vec<&str> = o.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "id",
            "details",
            "event",
            "deployment",
            "first_appearance_timestamp",
            "first_appearance_time",
            "duration",
            "duration_label",
            "determination",
            "detections_count",
            "detection_images",
            "determination_score",
            "determination_details",
            "best_machine_prediction",
            "identifications",
            "created_at",
            "updated_at",
            "determination_id",
            "detections",
            "predictions",
            "user_permissions"
        ]
    );
    assert_eq!(
        r.body["first_appearance_timestamp"],
        "2023-06-10T21:00:00.000005"
    );
    assert_eq!(
        r.body["detection_images"],
        json!(["/media/crops/leading%20slash%20%C3%A9.jpg"])
    );
    assert!(r.body["determination"].get("parents").is_none());
    assert_eq!(
        r.body["determination_details"]["taxon"]["parents"][2],
        json!({"id": 3, "name": "Agrotis", "rank": "GENUS"})
    );
    assert_eq!(r.body["event"]["name"], "Saturday, Jun 10-11 2023");
    let det = &r.body["detections"][0];
    assert_eq!(det["capture"]["url"], "https://img.test/base/a/1.jpg");
    assert_eq!(det["bbox"], json!([1, 2, 30, 40]));
    assert_eq!(det["occurrence"], "http://testserver/api/v2/occurrences/1/");
    assert_eq!(
        (det["width"].clone(), det["height"].clone()),
        (json!(null), json!(null))
    );
}

#[tokio::test]
async fn algorithms_endpoint_lists_detectors_and_classifiers_of_the_project() {
    let mut t = Tiny::new();
    t.b.add(
        "main_project",
        json!({"id": 2, "name": "Draft", "draft": true, "owner_id": 2}),
    );
    t.b.add(
        "ml_algorithmcategorymap",
        json!({"id": 1, "labels": ["a", "b", "c"]}),
    );
    t.b.add(
        "ml_algorithm",
        json!({"id": 9, "name": "aa-unused", "key": "u"}),
    );
    t.b.add(
        "ml_algorithm",
        json!({"id": 8, "name": "mapped", "key": "m", "category_map_id": 1}),
    );
    let d = t.simple(1, 4, 0.9); // detector 1 ("det")
    t.cls(d, Some(8), Some(4), Some(0.9), true);
    t.cls(d, Some(3), Some(4), Some(0.8), true);
    t.cls(d, None, Some(4), Some(0.7), true);
    let (_d, e) = t.engine().await;
    let r = call(&e, "/api/v2/occurrences/algorithms/?project_id=1")
        .await
        .body;
    assert_eq!(ids(&r), vec![1, 8, 3]); // by name: det, mapped, species-a
    assert_eq!(r["count"], 3);
    assert_eq!(r["results"][1]["category_count"], 3);
    assert_eq!(r["results"][0]["category_count"], json!(null));
    let r = call(
        &e,
        "/api/v2/occurrences/algorithms/?project_id=1&limit=1&offset=1",
    )
    .await
    .body;
    assert_eq!(ids(&r), vec![8]);
    // The action's checks (`OccurrenceViewSet.algorithms`): no project — absent, 0 or no such
    // row — is a 400 whose message is a string; a draft project the requester does not see
    // is a 404 naming the project; an invalid id is `get_active_project`'s 400.
    let required = json!({"project_id": "This parameter is required."});
    for q in ["", "?project_id=", "?project_id=0", "?project_id=5"] {
        let r = call(&e, &format!("/api/v2/occurrences/algorithms/{q}")).await;
        assert_eq!((r.status, r.body), (400, required.clone()), "{q}");
    }
    let draft = "/api/v2/occurrences/algorithms/?project_id=2";
    let r = call_as(&e, draft, Requester::Anonymous).await;
    assert_eq!(
        (r.status, r.body),
        (404, json!({"detail": "Project not found."}))
    );
    assert_eq!(call(&e, draft).await.status, 200); // the superuser sees it
    let r = call(&e, "/api/v2/occurrences/algorithms/?project_id=-1").await;
    assert_eq!(
        (r.status, r.body),
        (
            400,
            json!({"project_id": ["Ensure this value is greater than or equal to 0."]})
        )
    );
}
