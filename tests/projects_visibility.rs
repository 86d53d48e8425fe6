//! Projects and the status summary on a tiny snapshot: rules the oracle data set does not
//! exercise (it has no draft or inactive project): who sees which project, `is_member`,
//! visibility-filtered summary counts, and the captures-per-hour average's Python rounding.

mod common;

use common::{call_as, Tiny};
use occlens::api::request::Requester;
use serde_json::json;

/// Project 2 is open; 3 is a draft whose member is user 3 and which has deployment 2 and
/// captures at 22:00 and 23:00 New York time on two nights; 4 is inactive. (Tiny's project 1
/// is left out of the lists compared: its `active` is whatever the builder defaults to.)
fn world() -> Tiny {
    let mut t = Tiny::new();
    let b = &mut t.b;
    b.add(
        "main_project",
        json!({"id": 2, "name": "Open", "active": true, "priority": 1, "owner_id": 2}),
    );
    b.add(
        "main_project",
        json!({"id": 3, "name": "Hidden", "active": true, "draft": true, "priority": 1, "owner_id": 2}),
    );
    b.add(
        "main_project",
        json!({"id": 4, "name": "Old", "active": false, "priority": 1, "owner_id": 2}),
    );
    b.add(
        "users_user",
        json!({"id": 4, "name": "Bob", "email": "bob@t"}),
    );
    b.add(
        "main_userprojectmembership",
        json!({"id": 1, "user_id": 3, "project_id": 3}),
    );
    b.add(
        "main_deployment",
        json!({"id": 2, "name": "D2", "project_id": 3}),
    );
    // 22:00 local: 3 captures one night, 2 the next (2.5 → 2.0); 23:00: 4 and 3 (3.5 → 4.0).
    let mut id = 10;
    for (night, hour, n) in [(11, 2, 3), (12, 2, 2), (11, 3, 4), (12, 3, 3)] {
        for minute in 0..n {
            id += 1;
            b.add(
                "main_sourceimage",
                json!({"id": id, "path": format!("c/{id}.jpg"), "deployment_id": 2,
                "project_id": 3, "timestamp": format!("2023-06-{night}T0{hour}:0{minute}:00Z")}),
            );
        }
    }
    t
}

/// The ids of a list response other than Tiny's project 1.
fn ids(body: &serde_json::Value) -> Vec<i64> {
    common::ids(body)
        .into_iter()
        .filter(|&id| id != 1)
        .collect()
}

#[tokio::test]
async fn drafts_are_seen_by_members_only_and_inactive_projects_by_nobody() {
    let (_dir, engine) = world().engine().await;
    let list = "/api/v2/projects/";
    let anonymous = call_as(&engine, list, Requester::Anonymous).await;
    assert_eq!(ids(&anonymous.body), [2]);
    let member = call_as(&engine, list, Requester::User(3)).await;
    assert_eq!(ids(&member.body), [2, 3]);
    let other = call_as(&engine, list, Requester::User(4)).await;
    assert_eq!(ids(&other.body), [2]);
    let admin = call_as(&engine, list, Requester::Superuser(Some(2))).await;
    assert_eq!(ids(&admin.body), [2, 3]);
    assert_eq!(admin.body["user_permissions"], json!(["create"]));

    let detail = "/api/v2/projects/3/?with_charts=false";
    assert_eq!(
        call_as(&engine, detail, Requester::Anonymous).await.status,
        404
    );
    assert_eq!(
        call_as(&engine, detail, Requester::User(4)).await.status,
        404
    );
    let r = call_as(&engine, detail, Requester::User(3)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["is_member"], true);
    assert!(r.body.get("summary_data").is_none());
    let r = call_as(
        &engine,
        "/api/v2/projects/4/",
        Requester::Superuser(Some(2)),
    )
    .await;
    assert_eq!(r.status, 404, "inactive");

    // ?user_id must be the requester; then only member projects.
    let r = call_as(&engine, "/api/v2/projects/?user_id=3", Requester::User(3)).await;
    assert_eq!(ids(&r.body), [3]);
    let r = call_as(&engine, "/api/v2/projects/?user_id=3", Requester::User(4)).await;
    assert_eq!(
        (r.status, r.body),
        (403, json!({"detail": "You can only view your projects"}))
    );
}

#[tokio::test]
async fn summary_counts_go_through_visibility_but_a_draft_project_is_no_404() {
    let (_dir, engine) = world().engine().await;
    let url = "/api/v2/status/summary/?project_id=3";
    let r = call_as(&engine, url, Requester::Anonymous).await;
    assert_eq!(r.status, 200);
    // Every visible project counts, active or not: 1, 2 and 4.
    assert_eq!(r.body["projects_count"], 3);
    assert_eq!(r.body["deployments_count"], 0);
    assert_eq!(r.body["captures_count"], 0);
    let r = call_as(&engine, url, Requester::User(3)).await;
    assert_eq!(r.body["projects_count"], 4);
    assert_eq!(r.body["deployments_count"], 1);
    assert_eq!(r.body["captures_count"], 12);
    assert_eq!(r.body["num_captures"], 12);
}

#[tokio::test]
async fn hourly_averages_round_half_to_even() {
    let (_dir, engine) = world().engine().await;
    let r = call_as(&engine, "/api/v2/projects/3/charts/", Requester::User(3)).await;
    assert_eq!(r.status, 200);
    let plot = &r.body["summary_data"][0]["plots"][0];
    assert_eq!(plot["title"], "Average captures per hour");
    assert_eq!(
        plot["data"],
        json!({"x": ["10:00 PM", "11:00 PM"], "y": [2.0, 4.0], "ticktext": ["10:00 PM", "11:00 PM"]})
    );
    let months = &r.body["summary_data"][0]["plots"][1]["data"]["y"];
    assert_eq!(months, &json!([0, 0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0]));
    let top = &r.body["summary_data"][2]["plots"][0];
    assert_eq!(top["data"], json!({"x": [], "y": []}));
}
