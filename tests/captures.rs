//! `/api/v2/captures/` (SourceImageViewSet): the project is required; the list's fields, its
//! default order and orderings, the filterset (all invalid choices in one 400), `processed`
//! and `has_detections`; `with_counts` (occurrences and taxa under the default filters) and
//! `with_detections` (valid detections, `occurrence_meets_criteria`); the detail's capture
//! sets and neighbours in its event.

mod common;

use common::{call, call_as, ids, Tiny, T0};
use occlens::api::request::Requester;
use serde_json::{json, Value};

/// Capture 1 (T0, no size) has no event; event 1 (T0 to 08:50 UTC) holds captures 2 (T0+10
/// min, 1536 bytes) and 3 (T0+20 min, 2,345,678 bytes); capture 4 has no event and no
/// timestamp; capture 5 is in project 2. Capture 1 has detections 11 (occurrence 1: taxon 4 at 0.9) and 12 (occurrence 2:
/// taxon 6 at 0.2); capture 2 has 13 (occurrence 3: no score) and 15 (occurrence 1); capture 3
/// only a null marker (14). Set 1 holds captures 1 and 2, set 2 ("Starred") capture 2.
fn world() -> Tiny {
    let mut t = Tiny::new();
    t.occ(1, Some(4), Some(0.9));
    t.occ(2, Some(6), Some(0.2));
    t.occ(3, Some(6), None);
    t.b.add(
        "main_project",
        json!({"id": 2, "name": "P2", "owner_id": 2, "draft": true}),
    );
    for (id, ts, size, event, project) in [
        (2, Some("2023-06-11T01:10:00Z"), Some(1536), Some(1), 1),
        (3, Some("2023-06-11T01:20:00Z"), Some(2_345_678), Some(1), 1),
        (4, None, None, None, 1),
        (5, Some(T0), None, None, 2),
    ] {
        t.b.add(
            "main_sourceimage",
            json!({"id": id, "path": format!("a/{id}.jpg"), "public_base_url": "https://img.test/base/",
            "deployment_id": 1, "project_id": project, "event_id": event, "timestamp": ts,
            "size": size, "detections_count": 2, "uploaded_by_id": 3, "test_image": id == 3}),
        );
    }
    for (id, occurrence, capture, bbox, created) in [
        (
            11,
            Some(1),
            1,
            json!([1, 2, 30, 40]),
            "2023-06-12T00:00:00Z",
        ),
        (
            12,
            Some(2),
            1,
            json!([5, 6, 70, 80]),
            "2023-06-12T01:00:00Z",
        ),
        (13, Some(3), 2, json!([1, 1, 2, 2]), "2023-06-12T00:00:00Z"),
        (14, None, 3, Value::Null, "2023-06-13T00:00:00Z"),
        (15, Some(1), 2, json!([3, 3, 4, 4]), "2023-06-12T00:00:00Z"),
    ] {
        t.b.add(
            "main_detection",
            json!({"id": id, "occurrence_id": occurrence, "source_image_id": capture,
            "timestamp": "2023-06-11T01:10:00Z", "path": format!("crops/{id}.jpg"),
            "bbox": bbox, "created_at": created, "detection_algorithm_id": 1}),
        );
    }
    for (id, name) in [(1, "Every other"), (2, "Starred captures")] {
        t.b.add(
            "main_sourceimagecollection",
            json!({"id": id, "name": name, "project_id": 1, "method": "manual"}),
        );
    }
    for (id, set, image) in [(1, 1, 1), (2, 1, 2), (3, 2, 2)] {
        t.b.add(
            "main_sourceimagecollection_images",
            json!({"id": id, "sourceimagecollection_id": set, "sourceimage_id": image}),
        );
    }
    t.b.add(
        "main_userprojectmembership",
        json!({"id": 1, "user_id": 3, "project_id": 1}),
    );
    t
}

async fn status_body(e: &occlens::engine::Engine, url: &str) -> (u16, Value) {
    let r = call(e, url).await;
    (r.status, r.body)
}

#[tokio::test]
async fn the_list_needs_a_project_and_orders_by_timestamp() {
    let (_d, e) = world().engine().await;
    let (status, body) = status_body(&e, "/api/v2/captures/").await;
    assert_eq!(status, 400);
    assert_eq!(body, json!({"project_id": ["This field is required."]}));
    assert_eq!(
        status_body(&e, "/api/v2/captures/?project_id=99").await.0,
        404
    );
    assert_eq!(
        status_body(&e, "/api/v2/captures/?project_id=0").await.0,
        404
    );
    // DRF's content negotiation: a format no renderer has is a 404, before anything else.
    assert_eq!(status_body(&e, "/api/v2/captures/?format=xml").await.0, 404);
    assert_eq!(status_body(&e, "/api/v2/captures/thumbnails/").await.0, 404);
    assert_eq!(
        status_body(&e, "/api/v2/captures/?project_id=1&format=json")
            .await
            .0,
        200
    );
    // NULL timestamps last; the page and its count.
    let (status, body) = status_body(&e, "/api/v2/captures/?project_id=1").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), vec![1, 2, 3, 4]);
    assert_eq!(body["count"], json!(4));
    assert_eq!(body["user_permissions"], json!(["create"]));
    let (_, body) = status_body(&e, "/api/v2/captures/?project_id=1&limit=2&offset=1").await;
    assert_eq!(ids(&body), vec![2, 3]);
    // Orderings, NULLs last both ways, ties by id.
    let order = |q: &'static str| {
        let e = &e;
        async move {
            let url = format!("/api/v2/captures/?project_id=1&{q}");
            ids(&status_body(e, &url).await.1)
        }
    };
    assert_eq!(order("ordering=-size").await, vec![3, 2, 1, 4]);
    assert_eq!(order("ordering=size").await, vec![2, 3, 1, 4]);
    assert_eq!(order("ordering=-last_processed").await, vec![3, 1, 2, 4]);
    assert_eq!(order("ordering=-timestamp").await, vec![3, 2, 1, 4]);
    assert_eq!(order("ordering=bogus").await, vec![1, 2, 3, 4]);
    assert_eq!(
        order("ordering=-occurrences_count,id&with_counts=1").await,
        vec![1, 2, 3, 4]
    );
    // Ordering by an annotation Antenna did not add: its FieldError, when the page query runs
    // (not for an empty page, not past the end, not for the detail's get()).
    let status = |url: &'static str| {
        let e = &e;
        async move { status_body(e, url).await.0 }
    };
    assert_eq!(
        status("/api/v2/captures/?project_id=1&ordering=taxa_count").await,
        500
    );
    assert_eq!(
        status("/api/v2/captures/?project_id=1&ordering=taxa_count&offset=4").await,
        500
    );
    assert_eq!(
        status("/api/v2/captures/?project_id=1&ordering=taxa_count&offset=5").await,
        200
    );
    assert_eq!(
        status("/api/v2/captures/?project_id=1&ordering=taxa_count&event=1&processed=false").await,
        200
    );
    assert_eq!(
        status("/api/v2/captures/1/?project_id=1&ordering=taxa_count&with_counts=0").await,
        200
    );
}

#[tokio::test]
async fn a_list_item_has_the_serializer_fields() {
    let (_d, e) = world().engine().await;
    let (_, body) = status_body(&e, "/api/v2/captures/?project_id=1&limit=1&offset=1").await;
    let thumbnail =
        |label: &str| format!("http://testserver/api/v2/captures/thumbnails/2/?label={label}");
    assert_eq!(
        body["results"][0],
        json!({
            "id": 2,
            "details": "http://testserver/api/v2/captures/2/",
            "deployment": {"id": 1, "name": "D1", "details": "http://testserver/api/v2/deployments/1/",
                           "user_permissions": ["update", "regroup", "delete", "sync"]},
            "event": {"id": 1, "name": "Saturday, Jun 10-11 2023",
                      "details": "http://testserver/api/v2/events/1/", "date_label": "Jun 10-11 2023",
                      "user_permissions": ["update", "delete"]},
            "url": "https://img.test/base/a/2.jpg",
            "path": "a/2.jpg",
            "timestamp": "2023-06-10T21:10:00",
            "width": null,
            "height": null,
            "size": 1536,
            "size_display": "1.5\u{a0}KB",
            "detections_count": 2,
            "occurrences_count": null,
            "taxa_count": null,
            "last_processed": "2023-06-11T20:00:00",
            "project": 1,
            "thumbnails": {"small": thumbnail("small"), "medium": thumbnail("medium"), "large": thumbnail("large")},
            "user_permissions": ["star", "update", "run_single_image_ml_job", "delete"],
        })
    );
    let (_, body) = status_body(&e, "/api/v2/captures/?project_id=1").await;
    let field = |i: usize, k: &str| body["results"][i][k].clone();
    assert_eq!(field(0, "size_display"), json!("0\u{a0}bytes"));
    assert_eq!(field(0, "last_processed"), json!("2023-06-11T21:00:00"));
    assert_eq!(field(0, "detections_count"), Value::Null);
    assert_eq!(field(2, "size_display"), json!("2.2\u{a0}MB"));
    // A null marker counts as processing; a capture without detections was never processed.
    assert_eq!(field(2, "last_processed"), json!("2023-06-12T20:00:00"));
    assert_eq!(field(3, "last_processed"), Value::Null);
    assert_eq!(field(3, "event"), Value::Null);
    assert_eq!(field(3, "timestamp"), Value::Null);
    // A member sees the project's captures with the BasicMember actions; the draft project's
    // captures are hidden from anonymous and carry no thumbnails.
    let alice = call_as(
        &e,
        "/api/v2/captures/?project_id=1&limit=1",
        Requester::User(3),
    )
    .await
    .body;
    assert_eq!(
        alice["results"][0]["user_permissions"],
        json!(["star", "run_single_image_ml_job"])
    );
    assert_eq!(alice["user_permissions"], json!([]));
    let anonymous = call_as(&e, "/api/v2/captures/?project_id=2", Requester::Anonymous)
        .await
        .body;
    assert_eq!(anonymous["count"], json!(0));
    let (_, body) = status_body(&e, "/api/v2/captures/?project_id=2").await;
    assert_eq!(ids(&body), vec![5]);
    assert_eq!(body["results"][0]["thumbnails"], Value::Null);
}

#[tokio::test]
async fn filters_and_their_errors() {
    let (_d, e) = world().engine().await;
    let list = |q: &'static str| {
        let e = &e;
        async move { status_body(e, &format!("/api/v2/captures/?project_id=1&{q}")).await }
    };
    assert_eq!(ids(&list("event=1").await.1), vec![2, 3]);
    assert_eq!(
        ids(&list("deployment=1&deployment__project=1").await.1),
        vec![1, 2, 3, 4]
    );
    assert_eq!(ids(&list("collections=2").await.1), vec![2]);
    assert_eq!(
        ids(&list("collections=1&collections=2").await.1),
        vec![1, 2]
    );
    assert_eq!(ids(&list("processed=true").await.1), vec![1, 2, 3]);
    assert_eq!(ids(&list("processed=False").await.1), vec![4]);
    assert_eq!(ids(&list("has_detections=1").await.1), vec![1, 2]);
    assert_eq!(ids(&list("has_detections=0").await.1), vec![3, 4]);
    // The project's own filter: every capture of another project is out.
    assert_eq!(ids(&list("project=2").await.1), Vec::<i64>::new());
    let invalid = "Select a valid choice. That choice is not one of the available choices.";
    assert_eq!(
        list("event=999&deployment=abc&project=1").await,
        (400, json!({"event": [invalid], "deployment": [invalid]}))
    );
    assert_eq!(
        list("collections=").await,
        (
            400,
            json!({"collections": ["\u{201c}\u{201d} is not a valid value."]})
        )
    );
    assert_eq!(
        list("collections=9").await,
        (
            400,
            json!({"collections": ["Select a valid choice. 9 is not one of the available choices."]})
        )
    );
    // get_active_project reads 1.0 as 1; the filterset's ModelChoiceField does not.
    assert_eq!(
        status_body(&e, "/api/v2/captures/?project_id=1.0").await,
        (400, json!({"project_id": [invalid]}))
    );
}

#[tokio::test]
async fn counts_and_detections_follow_the_default_filters() {
    let (_d, e) = world().engine().await;
    let (_, body) = status_body(&e, "/api/v2/captures/?project_id=1&with_counts=true").await;
    let counts: Vec<(Value, Value)> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["occurrences_count"].clone(), r["taxa_count"].clone()))
        .collect();
    // Occurrence 3 has no score: the threshold refuses it.
    assert_eq!(
        counts,
        vec![
            (json!(2), json!(2)),
            (json!(1), json!(1)),
            (json!(0), json!(0)),
            (json!(0), json!(0))
        ]
    );
    let (_, body) = status_body(
        &e,
        "/api/v2/captures/?project_id=1&with_counts=true&apply_defaults=false",
    )
    .await;
    assert_eq!(body["results"][1]["occurrences_count"], json!(2));
    assert_eq!(body["results"][1]["taxa_count"], json!(2));
    // with_detections: the valid detections, with the nested occurrence.
    let (_, body) = status_body(&e, "/api/v2/captures/?project_id=1&with_detections=1").await;
    let detections = |i: usize| -> Vec<(i64, Value)> {
        body["results"][i]["detections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["id"].as_i64().unwrap(),
                    d["occurrence_meets_criteria"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(detections(1), vec![(13, json!(false)), (15, json!(true))]);
    assert_eq!(detections(2), vec![]);
    let keys: Vec<&str> = body["results"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(&keys[14..17], ["last_processed", "detections", "project"]);
    assert_eq!(
        body["results"][0]["detections"][0],
        json!({
            "id": 11,
            "details": "http://testserver/api/v2/detections/11/",
            "url": "/media/crops/11.jpg",
            "width": null,
            "height": null,
            "bbox": [1, 2, 30, 40],
            "occurrence": {
                "id": 1,
                "details": "http://testserver/api/v2/occurrences/1/",
                "determination": {"id": 4, "name": "Agrotis ipsilon", "rank": "SPECIES",
                    "details": "http://testserver/api/v2/taxa/4/", "gbif_taxon_key": null,
                    "fieldguide_id": null, "inat_taxon_id": null, "cover_image_url": null,
                    "cover_image_credit": null, "user_permissions": ["update", "delete"]},
                "determination_score": 0.9,
                "user_permissions": ["update", "delete"],
            },
            "classifications": "http://testserver/api/v2/classifications/?detection=11",
            "occurrence_meets_criteria": true,
            "user_permissions": ["update", "delete"],
        })
    );
    // Without the defaults every detection with an occurrence meets them.
    let (_, body) = status_body(
        &e,
        "/api/v2/captures/?project_id=1&with_detections=1&apply_defaults=false",
    )
    .await;
    assert_eq!(
        body["results"][1]["detections"][0]["occurrence_meets_criteria"],
        json!(true)
    );
    // With the defaults off, a threshold FloatField refuses is Antenna's 500.
    let (status, _) = status_body(
        &e,
        "/api/v2/captures/?project_id=1&with_detections=1&apply_defaults=false&classification_threshold=x",
    )
    .await;
    assert_eq!(status, 500);
}

#[tokio::test]
async fn the_detail_adds_sets_neighbours_and_defaults() {
    let (_d, e) = world().engine().await;
    let (status, body) = status_body(&e, "/api/v2/captures/2/").await;
    assert_eq!(
        (status, body),
        (400, json!({"project_id": ["This field is required."]}))
    );
    assert_eq!(
        status_body(&e, "/api/v2/captures/5/?project_id=1").await.0,
        404
    );
    assert_eq!(
        status_body(&e, "/api/v2/captures/abc/?project_id=1")
            .await
            .0,
        404
    );
    let (status, body) = status_body(&e, "/api/v2/captures/2/?project_id=1").await;
    assert_eq!(status, 200);
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "details",
            "deployment",
            "event",
            "url",
            "path",
            "timestamp",
            "width",
            "height",
            "size",
            "size_display",
            "detections_count",
            "occurrences_count",
            "taxa_count",
            "last_processed",
            "detections",
            "project",
            "uploaded_by",
            "test_image",
            "jobs",
            "collections",
            "event_next_capture_id",
            "event_prev_capture_id",
            "event_current_capture_index",
            "event_total_captures",
            "thumbnails",
            "user_permissions"
        ]
    );
    let pick = |b: &Value, k: &[&str]| k.iter().map(|k| b[*k].clone()).collect::<Vec<_>>();
    assert_eq!(
        pick(
            &body,
            &[
                "occurrences_count",
                "taxa_count",
                "uploaded_by",
                "test_image",
                "jobs",
                "event_next_capture_id",
                "event_prev_capture_id",
                "event_current_capture_index",
                "event_total_captures"
            ]
        ),
        vec![
            json!(1),
            json!(1),
            json!(3),
            json!(false),
            json!([]),
            json!(3),
            Value::Null,
            json!(1),
            json!(2)
        ]
    );
    assert_eq!(
        body["collections"],
        json!([
            {"id": 1, "name": "Every other", "details": "http://testserver/api/v2/captures/collections/1/",
             "method": "manual", "user_permissions": ["populate", "update", "delete"]},
            {"id": 2, "name": "Starred captures", "details": "http://testserver/api/v2/captures/collections/2/",
             "method": "manual", "user_permissions": ["populate", "update", "delete"]}
        ])
    );
    let detections: Vec<i64> = body["detections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert_eq!(detections, vec![13, 15]);
    // The last of the event; a capture without an event has no neighbours.
    let (_, last) = status_body(&e, "/api/v2/captures/3/?project_id=1").await;
    assert_eq!(
        pick(
            &last,
            &[
                "event_next_capture_id",
                "event_prev_capture_id",
                "event_current_capture_index",
                "event_total_captures",
                "test_image"
            ]
        ),
        vec![Value::Null, json!(2), json!(2), json!(2), json!(true)]
    );
    let (_, lone) = status_body(
        &e,
        "/api/v2/captures/4/?project_id=1&with_counts=false&with_detections=false",
    )
    .await;
    assert_eq!(
        pick(
            &lone,
            &[
                "event_next_capture_id",
                "event_prev_capture_id",
                "event_current_capture_index",
                "event_total_captures",
                "occurrences_count"
            ]
        ),
        vec![
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null
        ]
    );
    assert!(lone.get("detections").is_none());
    // The filterset applies to the detail too.
    assert_eq!(
        status_body(&e, "/api/v2/captures/4/?project_id=1&event=1")
            .await
            .0,
        404
    );
    // The project's owner (its Project manager, not a superuser) holds every capture,
    // deployment and capture set permission, and may create captures.
    let owner = call_as(&e, "/api/v2/captures/2/?project_id=1", Requester::User(2))
        .await
        .body;
    assert_eq!(
        owner["user_permissions"],
        json!(["star", "update", "run_single_image_ml_job", "delete"])
    );
    assert_eq!(
        owner["deployment"]["user_permissions"],
        json!(["update", "regroup", "delete", "sync"])
    );
    assert_eq!(
        owner["collections"][0]["user_permissions"],
        json!(["populate", "update", "delete"])
    );
    assert_eq!(owner["event"]["user_permissions"], json!([]));
    let alice = call_as(&e, "/api/v2/captures/2/?project_id=1", Requester::User(3))
        .await
        .body;
    assert_eq!(alice["deployment"]["user_permissions"], json!([]));
    assert_eq!(alice["collections"][0]["user_permissions"], json!([]));
    let list = call_as(&e, "/api/v2/captures/?project_id=1", Requester::User(2))
        .await
        .body;
    assert_eq!(list["user_permissions"], json!(["create"]));
}
