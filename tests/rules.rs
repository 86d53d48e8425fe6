//! Every rule of spec §3–§5 on a tiny snapshot, with the exact output asserted.

mod common;
#[path = "rules/filters.rs"]
mod filters;
#[path = "rules/permissions.rs"]
mod permissions;
#[path = "rules/responses.rs"]
mod responses;

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
