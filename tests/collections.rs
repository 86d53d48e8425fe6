//! `/api/v2/captures/collections/` (SourceImageCollectionViewSet): image counts, occurrence
//! and taxa counts under the project's default filters (`with_counts`, the detail's default),
//! the kwargs shown, and the permissions of curated ("starred") sets.

mod common;

use common::{call, call_as, Tiny, T0};
use occlens::api::request::Requester;
use serde_json::json;

/// Set 1 "Every other" holds captures 1 (two real detections: occurrences 1 and 2, and one
/// of occurrence 3 whose score is NULL), 2 (no detection) and 3 (a null marker only); set 2
/// "Starred captures" holds capture 1. User 3 is a member of project 1.
fn world() -> Tiny {
    let mut t = Tiny::new();
    t.simple(1, 4, 0.9);
    t.simple(2, 6, 0.2);
    t.occ(3, Some(6), None);
    t.det(3, Some(T0), None, false);
    for id in [2, 3] {
        t.b.add(
            "main_sourceimage",
            json!({"id": id, "path": format!("a/{id}.jpg"),
            "deployment_id": 1, "project_id": 1, "timestamp": T0}),
        );
    }
    t.b.add(
        "main_detection",
        json!({"id": 100, "occurrence_id": null, "source_image_id": 3,
        "timestamp": T0, "bbox": null, "detection_algorithm_id": 1}),
    );
    for (id, name, kwargs) in [
        (
            1,
            "Every other",
            json!({"max_num": 5, "unknown": 1, "size": null, "shuffle": true}),
        ),
        (2, "Starred captures", json!({})),
    ] {
        t.b.add(
            "main_sourceimagecollection",
            json!({"id": id, "name": name, "project_id": 1,
            "method": "manual", "kwargs": kwargs, "description": "",
            "created_at": T0, "updated_at": T0}),
        );
    }
    for (id, set, image) in [(1, 1, 1), (2, 1, 2), (3, 1, 3), (4, 2, 1)] {
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

#[tokio::test]
async fn capture_sets_count_images_occurrences_and_taxa() {
    let (_d, e) = world().engine().await;
    let counts = |body: &serde_json::Value| {
        [
            "source_images_count",
            "source_images_with_detections_count",
            "source_images_processed_count",
            "occurrences_count",
            "taxa_count",
        ]
        .map(|k| body[k].clone())
    };
    let r = call(&e, "/api/v2/captures/collections/1/").await.body;
    assert_eq!(
        counts(&r),
        [json!(3), json!(1), json!(2), json!(3), json!(2)]
    );
    // With a project its default filters apply: the NULL score fails the threshold.
    let r = call(&e, "/api/v2/captures/collections/1/?project_id=1")
        .await
        .body;
    assert_eq!(
        counts(&r),
        [json!(3), json!(1), json!(2), json!(2), json!(2)]
    );
    let r = call(
        &e,
        "/api/v2/captures/collections/1/?project_id=1&apply_defaults=false",
    )
    .await
    .body;
    assert_eq!(counts(&r)[3], json!(3));
    assert_eq!(r["kwargs"], json!({"max_num": 5, "shuffle": true}));
    assert_eq!(
        r["source_images"],
        "http://testserver/api/v2/captures/?collections=1"
    );
    // The list counts occurrences only with with_counts, which needs a project.
    let r = call(&e, "/api/v2/captures/collections/?project_id=1")
        .await
        .body;
    assert_eq!(r["count"], 2);
    assert_eq!(counts(&r["results"][0])[3], json!(null));
    let r = call(
        &e,
        "/api/v2/captures/collections/?project_id=1&with_counts=true",
    )
    .await
    .body;
    assert_eq!(counts(&r["results"][0])[3], json!(2));
    let r = call(&e, "/api/v2/captures/collections/?with_counts=true").await;
    assert_eq!(
        (r.status, r.body),
        (400, json!({"project_id": ["This field is required."]}))
    );
    let r = call(
        &e,
        "/api/v2/captures/collections/?ordering=-name&method=manual",
    )
    .await
    .body;
    assert_eq!(r["results"][0]["id"], 2);
    assert_eq!(
        call(&e, "/api/v2/captures/collections/9/").await.status,
        404
    );
    // `with_counts` given empty still makes the project required.
    let r = call(&e, "/api/v2/captures/collections/?with_counts=").await;
    assert_eq!(r.status, 400);
    // The filterset applies to the detail too.
    let detail = |q: &'static str| {
        let e = &e;
        async move {
            call(e, &format!("/api/v2/captures/collections/1/?{q}"))
                .await
                .status
        }
    };
    assert_eq!(detail("method=manual").await, 200);
    assert_eq!(detail("method=random").await, 404);
    assert_eq!(detail("method=bogus").await, 400);
    // `method` is a ChoiceFilter of the model's sampling methods.
    let r = call(&e, "/api/v2/captures/collections/?method=bogus").await;
    assert_eq!(
        (r.status, r.body),
        (
            400,
            json!({"method": ["Select a valid choice. bogus is not one of the available choices."]})
        )
    );
    // Antenna's 500s: ordering by the count it did not annotate; a threshold FloatField
    // refuses when the counts read it (apply_defaults=false).
    let url = "/api/v2/captures/collections/?project_id=1&ordering=-occurrences_count";
    assert_eq!(call(&e, url).await.status, 500);
    // … when the page query runs: not for an empty page, nor for the detail's get().
    assert_eq!(call(&e, &format!("{url}&method=random")).await.status, 200);
    assert_eq!(call(&e, &format!("{url}&with_counts=1")).await.status, 200);
    let one =
        "/api/v2/captures/collections/1/?project_id=1&ordering=-occurrences_count&with_counts=0";
    assert_eq!(call(&e, one).await.status, 200);
    let url = "/api/v2/captures/collections/1/?apply_defaults=false&classification_threshold=abc";
    assert_eq!(call(&e, url).await.status, 500);
    let url = "/api/v2/captures/collections/?project_id=1&apply_defaults=false&classification_threshold=abc";
    assert_eq!(call(&e, url).await.status, 200);
    // The project's owner (its manager) may create capture sets in it.
    let url = "/api/v2/captures/collections/?project_id=1";
    let owner = call_as(&e, url, Requester::User(2)).await.body;
    assert_eq!(owner["user_permissions"], json!(["create"]));
    let alice = call_as(&e, url, Requester::User(3)).await.body;
    assert_eq!(alice["user_permissions"], json!([]));
}

#[tokio::test]
async fn curated_sets_are_starred_not_populated() {
    let (_d, e) = world().engine().await;
    let perms = |who: Requester| {
        let e = &e;
        async move {
            let r = call_as(e, "/api/v2/captures/collections/?project_id=1", who)
                .await
                .body;
            (
                r["results"][0]["user_permissions"].clone(),
                r["results"][1]["user_permissions"].clone(),
            )
        }
    };
    assert_eq!(
        perms(Requester::Superuser(Some(2))).await,
        (
            json!(["populate", "update", "delete"]),
            json!(["update", "delete", "star"])
        )
    );
    assert_eq!(
        perms(Requester::User(3)).await,
        (json!([]), json!(["star"]))
    );
    assert_eq!(perms(Requester::Anonymous).await, (json!([]), json!([])));
}
