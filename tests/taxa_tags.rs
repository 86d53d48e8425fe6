//! Taxon tags (the optional `main_tag` / `main_taxon_tags` tables): the `tags` of the taxa
//! list and detail (the project's tags and the global ones, TagSerializer's shape), and the
//! `tag_id` / `not_tag_id` filters; without the tables, no taxon has a tag.

mod common;

use common::{call, call_as, Tiny};
use occlens::api::request::Requester;
use serde_json::{json, Value};

/// Tag 1 "pest" of project 1 on Noctuidae (2) and Tipula (6); tag 2 "global" (no project) on
/// Noctuidae; tag 3 "other" of project 2 on Noctuidae.
fn world() -> Tiny {
    let mut t = Tiny::new();
    t.b.add(
        "main_project",
        json!({"id": 2, "name": "P2", "default_filters_score_threshold": 0.0, "owner_id": 2}),
    );
    for (id, name, project) in [
        (1, "pest", Some(1)),
        (2, "global", None),
        (3, "other", Some(2)),
    ] {
        t.b.add(
            "main_tag",
            json!({"id": id, "name": name, "project_id": project,
                   "created_at": common::T0, "updated_at": common::T0}),
        );
    }
    for (id, taxon, tag) in [(1, 2, 1), (2, 6, 1), (3, 2, 2), (4, 2, 3)] {
        t.b.add(
            "main_taxon_tags",
            json!({"id": id, "taxon_id": taxon, "tag_id": tag}),
        );
    }
    t.simple(10, 2, 0.9);
    t.simple(11, 6, 0.8);
    t.simple(12, 4, 0.7);
    t
}

fn ids(body: &Value) -> Vec<i64> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

fn pest() -> Value {
    json!({
        "id": 1, "name": "pest",
        "project": {"id": 1, "name": "P1", "image": null,
                    "details": "http://testserver/api/v2/projects/1/",
                    "user_permissions": ["change", "update", "add", "delete"]},
        "taxa": [{"id": 2, "name": "Noctuidae"}, {"id": 6, "name": "Tipula paludosa"}],
        "user_permissions": ["update", "delete"],
    })
}

fn global() -> Value {
    json!({"id": 2, "name": "global", "project": null,
           "taxa": [{"id": 2, "name": "Noctuidae"}],
           "user_permissions": ["update", "delete"]})
}

#[tokio::test]
async fn taxa_carry_their_projects_tags_and_the_global_ones() {
    let (_d, e) = world().engine().await;
    let r = call(&e, "/api/v2/taxa/?project_id=1").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r.body), [4, 2, 6]);
    let items = r.body["results"].as_array().unwrap();
    assert_eq!(items[0]["tags"], json!([]));
    assert_eq!(items[1]["tags"], json!([pest(), global()]));
    assert_eq!(items[2]["tags"], json!([pest()]));
    // The detail: the same tags; project 2's tag only with project 2.
    let r = call(&e, "/api/v2/taxa/2/?project_id=1").await;
    assert_eq!(r.body["tags"], json!([pest(), global()]));
    let r = call(&e, "/api/v2/taxa/2/?project_id=2").await;
    let names: Vec<&str> = r.body["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["global", "other"]);
    // Without a project the prefetch is not made.
    let r = call(&e, "/api/v2/taxa/2/").await;
    assert_eq!(r.body["tags"], json!([]));
    let r = call(&e, "/api/v2/taxa/?limit=50").await;
    assert!(r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["tags"] == json!([])));
    // Anonymous: no permissions on the tag nor its project.
    let r = call_as(&e, "/api/v2/taxa/6/?project_id=1", Requester::Anonymous).await;
    assert_eq!(r.body["tags"][0]["user_permissions"], json!([]));
    assert_eq!(r.body["tags"][0]["project"]["user_permissions"], json!([]));
}

#[tokio::test]
async fn tag_id_keeps_and_not_tag_id_removes_the_tagged_taxa() {
    let (_d, e) = world().engine().await;
    let list = |url: &'static str| {
        let e = &e;
        async move { ids(&call(e, url).await.body) }
    };
    assert_eq!(list("/api/v2/taxa/?project_id=1&tag_id=1").await, [2, 6]);
    assert_eq!(
        list("/api/v2/taxa/?project_id=1&tag_id=2&tag_id=3").await,
        [2]
    );
    assert_eq!(
        list("/api/v2/taxa/?project_id=1&not_tag_id=2").await,
        [4, 6]
    );
    assert_eq!(
        list("/api/v2/taxa/?project_id=1&tag_id=1&not_tag_id=2").await,
        [6]
    );
    assert_eq!(
        list("/api/v2/taxa/?project_id=1&tag_id=99").await,
        Vec::<i64>::new()
    );
    assert_eq!(
        list("/api/v2/taxa/?project_id=1&not_tag_id=99999999999999999999").await,
        [4, 2, 6]
    );
    let r = call(&e, "/api/v2/taxa/?project_id=1&tag_id=x").await;
    assert_eq!(r.status, 500);
    // The detail applies the same filter backends: a taxon filtered out is a 404.
    assert_eq!(
        call(&e, "/api/v2/taxa/4/?project_id=1&tag_id=1")
            .await
            .status,
        404
    );
    assert_eq!(
        call(&e, "/api/v2/taxa/6/?project_id=1&tag_id=1")
            .await
            .status,
        200
    );
    assert_eq!(
        call(&e, "/api/v2/taxa/2/?project_id=1&not_tag_id=3")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn without_the_tag_tables_no_taxon_has_a_tag() {
    let mut t = Tiny::new();
    t.simple(10, 2, 0.9);
    let (_d, e) = t.engine().await;
    let r = call(&e, "/api/v2/taxa/?project_id=1").await;
    assert_eq!(r.body["results"][0]["tags"], json!([]));
    assert_eq!(
        ids(&call(&e, "/api/v2/taxa/?project_id=1&tag_id=1").await.body),
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(&call(&e, "/api/v2/taxa/?project_id=1&not_tag_id=1")
            .await
            .body),
        [2]
    );
}

#[tokio::test]
async fn the_tags_endpoint_lists_a_projects_tags_and_the_global_ones() {
    let (_d, e) = world().engine().await;
    let r = call(&e, "/api/v2/tags/?project_id=1").await.body;
    assert_eq!(r["count"], 2);
    assert_eq!(r["results"], json!([pest(), global()]));
    assert_eq!(r["user_permissions"], json!(["create"]));
    assert_eq!(ids(&call(&e, "/api/v2/tags/").await.body), [1, 2, 3]);
    assert_eq!(
        ids(&call(&e, "/api/v2/tags/?project_id=2").await.body),
        [2, 3]
    );
    // filterset "taxa": the tags a taxon holds (OR over the values); an unknown taxon: 400.
    assert_eq!(ids(&call(&e, "/api/v2/tags/?taxa=6").await.body), [1]);
    assert_eq!(
        ids(&call(&e, "/api/v2/tags/?taxa=6&taxa=2&project_id=2")
            .await
            .body),
        [2, 3]
    );
    let r = call(&e, "/api/v2/tags/?taxa=99").await;
    assert_eq!(
        (r.status, r.body),
        (
            400,
            json!({"taxa": ["Select a valid choice. 99 is not one of the available choices."]})
        )
    );
    assert_eq!(call(&e, "/api/v2/tags/2/").await.body, global());
    // The detail is in the project's queryset or a 404.
    assert_eq!(call(&e, "/api/v2/tags/3/?project_id=1").await.status, 404);
    // visible_for_user: tags of the projects the requester sees; a global tag is not one.
    let anon = call_as(&e, "/api/v2/tags/?project_id=1", Requester::Anonymous)
        .await
        .body;
    assert_eq!(ids(&anon), [1]);
    assert_eq!(anon["user_permissions"], json!([]));
    assert_eq!(anon["results"][0]["user_permissions"], json!([]));
    assert_eq!(
        call_as(&e, "/api/v2/tags/2/", Requester::Anonymous)
            .await
            .status,
        404
    );
    let r = call(&e, "/api/v2/tags/?taxa=abc").await.body;
    assert_eq!(
        r,
        json!({"taxa": ["\u{201c}abc\u{201d} is not a valid value."]})
    );
    let r = call(&e, "/api/v2/tags/?taxa=06").await.body;
    assert_eq!(
        r,
        json!({"taxa": ["Select a valid choice. 06 is not one of the available choices."]})
    );
}
