//! `/api/v2/identifications/` (IdentificationViewSet): newest first, the filterset
//! (`occurrence`, `user`, `taxon`: an unknown choice is a 400), visibility by the occurrence's
//! project, the serializer's nested objects and permissions.

mod common;

use common::{call, call_as, Tiny};
use occlens::api::request::Requester;
use serde_json::json;

/// Identifications 1 (Admin on occurrence 1), 2 (Alice on 1, withdrawn), 3 (Alice on 2, no
/// taxon), 4 (Admin on occurrence 5 of the draft project 2, which Alice does not see).
fn world() -> Tiny {
    let mut t = Tiny::new();
    t.simple(1, 4, 0.9);
    t.simple(2, 6, 0.8);
    t.ident(1, Some(2), Some(4), false, "2023-06-12T01:00:00Z");
    t.ident(1, Some(3), Some(3), true, "2023-06-13T01:00:00Z");
    t.ident(2, Some(3), None, false, "2023-06-14T01:00:00Z");
    t.b.add(
        "main_project",
        json!({"id": 2, "name": "Draft", "draft": true, "owner_id": 2}),
    );
    t.b.add(
        "main_occurrence",
        json!({"id": 5, "project_id": 2, "determination_id": 4}),
    );
    t.ident(5, Some(2), Some(4), false, "2023-06-11T01:00:00Z");
    t.b.add(
        "main_occurrence",
        json!({"id": 6, "project_id": null, "determination_id": 4}),
    );
    t.ident(6, Some(2), Some(4), false, "2023-06-10T01:00:00Z");
    t
}

fn ids(body: &serde_json::Value) -> Vec<i64> {
    common::ids(body)
}

#[tokio::test]
async fn identifications_newest_first_filtered_and_visible() {
    let (_d, e) = world().engine().await;
    assert_eq!(
        ids(&call(&e, "/api/v2/identifications/").await.body),
        [3, 2, 1, 4, 5]
    );
    assert_eq!(
        ids(
            &call_as(&e, "/api/v2/identifications/", Requester::Anonymous)
                .await
                .body
        ),
        [3, 2, 1]
    );
    assert_eq!(
        ids(&call(&e, "/api/v2/identifications/?occurrence=1").await.body),
        [2, 1]
    );
    assert_eq!(
        ids(
            &call(&e, "/api/v2/identifications/?user=3&ordering=created_at")
                .await
                .body
        ),
        [2, 3]
    );
    assert_eq!(
        ids(&call(&e, "/api/v2/identifications/?taxon=4&ordering=-user")
            .await
            .body),
        [1, 4, 5]
    );
    // Not a filter of the viewset: ignored, as Antenna ignores it.
    assert_eq!(
        ids(&call(&e, "/api/v2/identifications/?occurrence__project=9")
            .await
            .body)
        .len(),
        5
    );
    let r = call(&e, "/api/v2/identifications/?occurrence=99").await;
    assert_eq!(
        (r.status, r.body),
        (
            400,
            json!({"occurrence": ["Select a valid choice. That choice is not one of the available choices."]})
        )
    );
    assert_eq!(
        call_as(&e, "/api/v2/identifications/4/", Requester::Anonymous)
            .await
            .status,
        404
    );
    let r = call(&e, "/api/v2/identifications/2/").await.body;
    assert_eq!(r["occurrence"]["id"], 1);
    assert_eq!(r["occurrence"]["determination"]["name"], "Agrotis ipsilon");
    assert_eq!(
        r["occurrence"]["user_permissions"],
        json!(["update", "delete"])
    );
    assert_eq!(r["taxon"]["name"], "Agrotis");
    assert_eq!(r["taxon"]["parents"].as_array().unwrap().len(), 2);
    assert_eq!(r["user"]["name"], "Alice");
    assert_eq!(
        (r["withdrawn"].clone(), r["comment"].clone()),
        (json!(true), json!(""))
    );
    assert_eq!(r["created_at"], "2023-06-12T21:00:00");
    assert_eq!(r["user_permissions"], json!(["update", "delete"]));
    assert_eq!(
        call(&e, "/api/v2/identifications/3/").await.body["taxon"],
        json!(null)
    );
    // The filterset applies to the detail too (get_object filters the queryset first).
    assert_eq!(
        call(&e, "/api/v2/identifications/2/?user=3").await.status,
        200
    );
    assert_eq!(
        call(&e, "/api/v2/identifications/2/?user=2").await.status,
        404
    );
    let r = call(&e, "/api/v2/identifications/2/?user=99&taxon=x").await;
    let invalid = "Select a valid choice. That choice is not one of the available choices.";
    assert_eq!(
        (r.status, r.body),
        (400, json!({"user": [invalid], "taxon": [invalid]}))
    );
    // Without a project (its occurrence has none) no one may read it: Antenna's 403.
    assert_eq!(call(&e, "/api/v2/identifications/5/").await.status, 403);
    // The project's owner manages its identifications; another user does not.
    let owner = call_as(&e, "/api/v2/identifications/2/", Requester::User(2))
        .await
        .body;
    assert_eq!(
        (
            owner["user_permissions"].clone(),
            owner["occurrence"]["user_permissions"].clone()
        ),
        (json!(["update", "delete"]), json!([]))
    );
    let alice = call_as(&e, "/api/v2/identifications/2/", Requester::User(3))
        .await
        .body;
    assert_eq!(alice["user_permissions"], json!([]));
    let r = call_as(&e, "/api/v2/identifications/?limit=1", Requester::Anonymous)
        .await
        .body;
    assert_eq!(
        (r["count"].clone(), r["user_permissions"].clone()),
        (json!(3), json!([]))
    );
}
