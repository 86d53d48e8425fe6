//! What the requester sees and may do: draft projects, visibility and `user_permissions`.

use super::*;

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
