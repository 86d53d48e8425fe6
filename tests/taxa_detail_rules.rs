//! Rules of the taxon detail and the taxa lists that the recorded fixture does not exercise:
//! the filter backends running on a detail, the `collection` counts, the example
//! occurrence's NULL score and negative duration, and `project_id=0` on a required project.

mod common;

use common::{call, call_as, Tiny};
use occlens::api::request::Requester;
use serde_json::json;

/// Occurrences of Agrotis ipsilon (4) in project 1: 10 (score 0.9, two detections, the later
/// one on capture 2 which is in capture set 1), 11 (NULL score; its latest detection is on
/// capture 3, which was taken before its first detection's capture 1), and 12 of Tipula (6).
fn world() -> Tiny {
    let mut t = Tiny::new();
    let b = &mut t.b;
    b.add(
        "main_sourceimage",
        json!({"id": 2, "path": "a/2.jpg", "deployment_id": 1, "project_id": 1,
                                      "timestamp": "2023-06-11T02:00:00Z"}),
    );
    b.add(
        "main_sourceimage",
        json!({"id": 3, "path": "a/3.jpg", "deployment_id": 1, "project_id": 1,
                                      "timestamp": "2023-06-11T00:35:00Z"}),
    );
    b.add(
        "main_sourceimagecollection",
        json!({"id": 1, "name": "C1", "project_id": 1}),
    );
    b.add(
        "main_sourceimagecollection_images",
        json!({"id": 1, "sourceimagecollection_id": 1, "sourceimage_id": 2}),
    );
    t.occ(10, Some(4), Some(0.9))
        .occ(11, Some(4), None)
        .occ(12, Some(6), Some(0.8));
    let b = &mut t.b;
    for (id, occ, capture, ts) in [
        (1, 10, 1, "2023-06-11T01:00:00Z"),
        (2, 10, 2, "2023-06-11T02:00:00Z"),
        (3, 11, 1, "2023-06-11T01:00:00Z"),
        (4, 11, 3, "2023-06-11T03:00:00Z"),
        (5, 12, 1, "2023-06-11T01:00:00Z"),
    ] {
        b.add("main_detection", json!({"id": id, "occurrence_id": occ, "source_image_id": capture,
                                        "timestamp": ts, "bbox": [1, 2, 3, 4], "path": format!("d/{id}.jpg")}));
    }
    b.add(
        "main_taxalist",
        json!({"id": 1, "name": "L1", "description": ""}),
    );
    b.add(
        "main_taxalist_projects",
        json!({"id": 1, "taxalist_id": 1, "project_id": 1}),
    );
    b.add(
        "main_taxalist_taxa",
        json!({"id": 1, "taxalist_id": 1, "taxon_id": 4}),
    );
    t
}

#[tokio::test]
async fn detail_runs_the_filter_backends_before_the_lookup() {
    let (_dir, engine) = world().engine().await;
    let r = call(&engine, "/api/v2/taxa/4/?rank=species&parent=abc").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"rank": ["Select a valid choice. species is not one of the available choices."],
               "parent": ["Select a valid choice. That choice is not one of the available choices."]})
    );
    // Valid values that exclude the taxon: 404 of the lookup.
    for url in [
        "/api/v2/taxa/4/?rank=GENUS",
        "/api/v2/taxa/4/?taxon=6",
        "/api/v2/taxa/4/?search=tipula",
        "/api/v2/taxa/4/?taxa_list_id=1&include_descendants=false&not_taxa_list_id=1",
        "/api/v2/taxa/4/?tag_id=1",
    ] {
        let r = call(&engine, url).await;
        assert_eq!(
            (r.status, &r.body),
            (404, &json!({"detail": "Not found."})),
            "{url}"
        );
    }
    for url in [
        "/api/v2/taxa/4/?rank=SPECIES&taxon=2&search=agro,IPSI&taxa_list_id=1&occurrences__project=1",
        // Without a project the occurrence filters are not read.
        "/api/v2/taxa/4/?occurrence=abc&event=999",
    ] {
        assert_eq!(call(&engine, url).await.status, 200, "{url}");
    }
    let r = call(&engine, "/api/v2/taxa/4/?taxon=99").await;
    assert_eq!(
        (r.status, r.body),
        (404, json!({"detail": "No taxon found with id 99"}))
    );
    // 500s: a non-integer occurrence filter with a project, a best-score threshold without one.
    for url in [
        "/api/v2/taxa/4/?project_id=1&occurrence=abc",
        "/api/v2/taxa/4/?best_determination_score=0.5",
        "/api/v2/taxa/4/?taxa_list_id=x",
    ] {
        assert_eq!(call(&engine, url).await.status, 500, "{url}");
    }
    // With a project the threshold reads the annotation: best 0.9.
    assert_eq!(
        call(
            &engine,
            "/api/v2/taxa/4/?project_id=1&best_determination_score=0.95"
        )
        .await
        .status,
        404
    );
    assert_eq!(
        call(
            &engine,
            "/api/v2/taxa/4/?project_id=1&best_determination_score=0.9"
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn collection_restricts_counts_and_last_detected_to_its_captures() {
    let (_dir, engine) = world().engine().await;
    let all = call(&engine, "/api/v2/taxa/4/?project_id=1&apply_defaults=false")
        .await
        .body;
    assert_eq!(all["occurrences_count"], json!(2));
    assert_eq!(all["last_detected"], json!("2023-06-10T23:00:00"));
    let c = call(
        &engine,
        "/api/v2/taxa/4/?project_id=1&apply_defaults=false&collection=1",
    )
    .await
    .body;
    assert_eq!(c["occurrences_count"], json!(1));
    assert_eq!(c["best_determination_score"], json!(0.9));
    assert_eq!(c["last_detected"], json!("2023-06-10T22:00:00"));
    assert_eq!(c["occurrences"][0]["id"], json!(10));
    let r = call(&engine, "/api/v2/taxa/4/?project_id=1&collection=2").await;
    assert_eq!(
        (r.status, r.body),
        (
            404,
            json!({"detail": "SourceImageCollection matching query does not exist."})
        )
    );
}

#[tokio::test]
async fn example_prefers_a_null_score_and_shows_wall_clock_negative_durations() {
    let (_dir, engine) = world().engine().await;
    // The default score filter (threshold 0.0) drops 11 from the counts, not from the example.
    let body = call(&engine, "/api/v2/taxa/4/?project_id=1").await.body;
    assert_eq!(body["occurrences_count"], json!(1));
    let ex = &body["occurrences"][0];
    assert_eq!(ex["id"], json!(11));
    assert_eq!(ex["determination_score"], json!(null));
    // Last appearance (latest detection, capture 3 at 20:35) minus first (capture 1, 21:00).
    assert_eq!(ex["duration"], json!("-1500.0"));
    assert_eq!(ex["duration_label"], json!("1415 minutes"));
    assert_eq!(ex["user_permissions"], json!(["update", "delete"]));
    let anon = call_as(
        &engine,
        "/api/v2/taxa/4/?project_id=1",
        Requester::Anonymous,
    )
    .await
    .body;
    assert_eq!(anon["occurrences"][0]["user_permissions"], json!([]));
}

#[tokio::test]
async fn taxa_lists_require_a_project_and_zero_is_not_found() {
    let (_dir, engine) = world().engine().await;
    let r = call(&engine, "/api/v2/taxa/lists/?project_id=0").await;
    assert_eq!((r.status, r.body), (404, json!({"detail": "Not found."})));
    let r = call(&engine, "/api/v2/taxa/lists/1/").await;
    assert_eq!(
        (r.status, r.body),
        (400, json!({"project_id": ["This field is required."]}))
    );
    let r = call(&engine, "/api/v2/taxa/lists/1/?project_id=1.0").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["taxa_count"], json!(1));
    assert_eq!(r.body["projects"], json!([1]));
}
