//! Rules of the events and deployments endpoints the recorded fixture does not exercise:
//! `capture_page_offset` by timestamp / capture / detection, parameter errors and 500s,
//! project-less deployments, NULL sizes.

mod common;

use common::{call, call_as, Tiny};
use occlens::api::request::Requester;
use serde_json::json;

/// Event 2 spans the 2023 fall-back night: its captures at 04:00Z, 05:10Z (01:10 EDT),
/// 06:10Z (01:10 EST) and 07:00Z; capture 20 belongs to event 1.
fn world() -> Tiny {
    let mut t = Tiny::new();
    let b = &mut t.b;
    b.add(
        "main_event",
        json!({"id": 2, "start": "2023-11-05T01:00:00Z", "end": "2023-11-05T08:00:00Z",
                               "project_id": 1, "deployment_id": 1}),
    );
    for (id, ts, size) in [
        (10, "2023-11-05T04:00:00Z", Some(5)),
        (11, "2023-11-05T05:10:00Z", Some(9)),
        (12, "2023-11-05T06:10:00Z", None),
        (13, "2023-11-05T07:00:00Z", Some(9)),
    ] {
        b.add("main_sourceimage", json!({"id": id, "path": format!("n/{id}.jpg"), "deployment_id": 1,
                                          "project_id": 1, "event_id": 2, "timestamp": ts, "size": size}));
    }
    b.add(
        "main_sourceimage",
        json!({"id": 20, "path": "n/20.jpg", "deployment_id": 1, "project_id": 1,
                                      "event_id": 1, "timestamp": common::T0}),
    );
    b.add(
        "main_occurrence",
        json!({"id": 5, "project_id": 1, "event_id": 2}),
    );
    for (id, capture, ts) in [
        (30, 13, "2023-11-05T07:00:00Z"),
        (31, 12, "2023-11-05T06:10:00Z"),
    ] {
        b.add(
            "main_detection",
            json!({"id": id, "occurrence_id": 5, "source_image_id": capture,
                                        "timestamp": ts, "bbox": [1, 2, 3, 4]}),
        );
    }
    b.add(
        "main_deployment",
        json!({"id": 2, "name": "Orphan station", "project_id": null}),
    );
    t
}

#[tokio::test]
async fn capture_page_offset_reads_timestamps_as_python_and_postgres_do() {
    let (_dir, engine) = world().engine().await;
    let offset = |url: &'static str| {
        let engine = &engine;
        async move {
            let r = call(engine, url).await;
            (
                r.status,
                r.body["capture_page_offset"].clone(),
                r.body["captures"].clone(),
            )
        }
    };
    let base = "http://testserver/api/v2/captures/?event=2&ordering=timestamp";
    // A naive fall-back reading is standard time (06:10Z): two captures come before it.
    assert_eq!(
        offset("/api/v2/events/2/?timestamp=2023-11-05T01:10:00").await,
        (200, json!(2), json!(format!("{base}&offset=2")))
    );
    // An aware one is the instant it names (05:10Z).
    assert_eq!(
        offset("/api/v2/events/2/?timestamp=2023-11-05T01:10:00-04:00").await,
        (200, json!(1), json!(format!("{base}&offset=1")))
    );
    // `+` decodes to a space: not ISO 8601, Python raises (a 500).
    assert_eq!(
        offset("/api/v2/events/2/?timestamp=2023-11-05T06:10:00+00:00")
            .await
            .0,
        500
    );
    // No capture at that instant: the raw `offset` parameter, a string, added when non-empty.
    assert_eq!(
        offset("/api/v2/events/2/?timestamp=2023-11-05T03:00&offset=0").await,
        (200, json!("0"), json!(format!("{base}&offset=0")))
    );
    // An offset of 0 counted is not added to the URL.
    assert_eq!(
        offset("/api/v2/events/2/?capture=10").await,
        (200, json!(0), json!(base))
    );
    // The first given parameter wins; a capture of another event fails Antenna's assertion.
    assert_eq!(
        offset("/api/v2/events/2/?capture=20&timestamp=2023-11-05")
            .await
            .0,
        500
    );
    assert_eq!(offset("/api/v2/events/2/?capture=abc").await.0, 500);
    assert_eq!(offset("/api/v2/events/2/?detection=30").await.1, json!(3));
    // The occurrence's first appearance: its earliest detection (capture 12).
    assert_eq!(offset("/api/v2/events/2/?occurrence=5").await.1, json!(2));
    assert_eq!(offset("/api/v2/events/2/?occurrence=6").await.0, 500);
    assert_eq!(offset("/api/v2/events/2/").await.1, json!(null));
}

#[tokio::test]
async fn event_list_parameters_fail_as_antenna() {
    let (_dir, engine) = world().engine().await;
    let invalid = json!({"deployment": ["Select a valid choice. That choice is not one of the available choices."]});
    for url in [
        "/api/v2/events/?deployment=1.0",
        "/api/v2/events/?deployment=0",
        "/api/v2/events/?deployment=abc",
        "/api/v2/events/2/?deployment=9",
    ] {
        let r = call(&engine, url).await;
        assert_eq!((r.status, &r.body), (400, &invalid), "{url}");
    }
    let r = call(&engine, "/api/v2/events/?deployment=%201&ordering=-start").await;
    assert_eq!((r.status, common::ids(&r.body)), (200, vec![2, 1]));
    // The detail of another deployment's event is not found; a project-less deployment
    // still filters.
    assert_eq!(
        call(&engine, "/api/v2/events/2/?deployment=2").await.status,
        404
    );
    // taxa_count exists only with a project.
    assert_eq!(
        call(&engine, "/api/v2/events/?ordering=-taxa_count")
            .await
            .status,
        500
    );
    // ... when the page query runs: DRF's paginator does not run it for a page past the end.
    let r = call(&engine, "/api/v2/events/?ordering=-taxa_count&offset=100").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["count"], json!(2));
    assert_eq!(r.body["results"], json!([]));
    assert_eq!(
        r.body["previous"],
        json!("http://testserver/api/v2/events/?limit=20&offset=80&ordering=-taxa_count")
    );
    let r = call(&engine, "/api/v2/events/?project_id=1&ordering=-taxa_count").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        call(&engine, "/api/v2/events/2/?ordering=taxa_count")
            .await
            .status,
        200
    );
    assert_eq!(call(&engine, "/api/v2/events/abc/").await.status, 404);
}

#[tokio::test]
async fn deployment_details_without_project_or_sizes() {
    let (_dir, engine) = world().engine().await;
    // Only the superuser sees a project-less deployment, and its permission check fails.
    let r = call(&engine, "/api/v2/deployments/2/").await;
    assert_eq!(r.status, 403);
    let r = call_as(&engine, "/api/v2/deployments/2/", Requester::Anonymous).await;
    assert_eq!(r.status, 404);
    let r = call(&engine, "/api/v2/deployments/?ordering=name").await;
    assert_eq!(common::ids(&r.body), vec![1, 2]);
    assert_eq!(r.body["results"][1]["project"], json!(null));
    assert_eq!(
        r.body["results"][1]["user_permissions"],
        json!(["update", "delete"])
    );
    // ORDER BY size DESC puts NULL first (captures 1, 12 and 20); below 7 rows PostgreSQL's
    // sort is an insertion sort, which keeps ties in scan (id) order.
    let r = call(&engine, "/api/v2/deployments/1/").await;
    let ids: Vec<i64> = r.body["example_captures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 12, 20, 11, 13, 10]);
    assert_eq!(
        r.body["data_source_total_size_display"],
        json!("0\u{a0}bytes")
    );
    assert_eq!(r.body["events"][1]["name"], json!("Saturday, Nov 4-5 2023"));
}
