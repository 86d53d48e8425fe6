//! The optional tables the other endpoints read: a deployment's storage source
//! (`main_s3storagesource`) and jobs (`jobs_job`), a project's default processing pipeline
//! (`ml_pipeline`): the nested objects of the deployment and project answers, and null or
//! `[]` when the table or the row is absent. (Tags: tests/taxa_tags.rs.)

mod common;

use common::{call, call_as, Tiny, T0};
use occlens::api::request::Requester;
use serde_json::json;

fn world(with_tables: bool) -> Tiny {
    let mut t = Tiny::new();
    t.b.add(
        "main_project",
        json!({"id": 2, "name": "P2", "default_filters_score_threshold": 0.0, "owner_id": 2,
               "default_processing_pipeline_id": 7}),
    );
    for (id, source, subdir, regex) in [
        (2, Some(5), Some("/nights/2023/"), Some(r".*\.jpg$")),
        (3, Some(6), None, None),
        (4, Some(99), None, None),
    ] {
        t.b.add(
            "main_deployment",
            json!({"id": id, "name": format!("D{id}"), "project_id": 2, "data_source_id": source,
                   "data_source_subdir": subdir, "data_source_regex": regex}),
        );
    }
    if with_tables {
        t.b.add(
            "main_s3storagesource",
            json!({"id": 5, "name": "Bucket A", "bucket": "ami-data", "prefix": "/traps/",
                   "project_id": 2, "created_at": T0, "updated_at": T0}),
        );
        t.b.add(
            "main_s3storagesource",
            json!({"id": 6, "name": "Shared", "bucket": "shared", "prefix": "",
                   "project_id": null, "created_at": T0, "updated_at": T0}),
        );
        // Deployment 2: an ml job, a later data export, and a job without a project.
        for (id, created, key, project) in [
            (1, "2023-06-11T01:00:00Z", "ml", Some(2)),
            (2, "2023-06-12T01:00:00Z", "data_export", Some(2)),
            (3, "2023-06-10T01:00:00Z", "regroup_events", None),
        ] {
            t.b.add(
                "jobs_job",
                json!({"id": id, "created_at": created, "updated_at": created, "name": "j",
                       "status": "SUCCESS", "job_type_key": key, "project_id": project,
                       "deployment_id": 2}),
            );
        }
        t.b.add(
            "main_userprojectmembership",
            json!({"id": 1, "user_id": 3, "project_id": 2, "created_at": T0, "updated_at": T0}),
        );
        t.b.add(
            "ml_pipeline",
            json!({"id": 7, "name": "Moths 2024", "slug": "moths-2024", "description": "",
                   "version": 2, "version_name": "b", "created_at": T0, "updated_at": T0}),
        );
    }
    t
}

#[tokio::test]
async fn a_deployments_storage_source_is_nested_with_its_uri() {
    let (_d, e) = world(true).engine().await;
    let r = call(&e, "/api/v2/deployments/2/").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let uri = r"s3://ami-data/traps/nights/2023/?regex=.*\.jpg$";
    assert_eq!(
        r.body["data_source"],
        json!({"id": 5, "name": "Bucket A", "details": "http://testserver/api/v2/storage/5/",
               "user_permissions": ["update", "delete", "test"], "uri": uri})
    );
    assert_eq!(r.body["data_source_uri"], uri);
    assert_eq!(r.body["data_source_connected"], true);
    let r = call(&e, "/api/v2/deployments/3/").await;
    assert_eq!(r.body["data_source_uri"], "s3://shared");
    assert_eq!(
        r.body["data_source"]["user_permissions"],
        json!(["update", "delete"])
    );
    // An id without a row, and no id at all.
    let r = call(&e, "/api/v2/deployments/4/").await;
    assert_eq!(
        (
            r.body["data_source"].clone(),
            r.body["data_source_uri"].clone()
        ),
        (json!(null), json!(null))
    );
    assert_eq!(r.body["data_source_connected"], true);
    let r = call(&e, "/api/v2/deployments/1/").await;
    assert_eq!(r.body["data_source"], json!(null));
    assert_eq!(r.body["data_source_connected"], false);
    // Anonymous requesters see the source without permissions.
    let r = call_as(&e, "/api/v2/deployments/2/", Requester::Anonymous).await;
    assert_eq!(r.body["data_source"]["user_permissions"], json!([]));
}

#[tokio::test]
async fn a_projects_default_pipeline_is_nested_in_its_settings() {
    let (_d, e) = world(true).engine().await;
    let r = call(&e, "/api/v2/projects/2/?with_charts=false").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["settings"]["default_processing_pipeline"],
        json!({"id": 7, "details": "http://testserver/api/v2/ml/pipelines/7/",
               "name": "Moths 2024", "slug": "moths-2024", "description": "", "version": 2,
               "version_name": "b", "created_at": "2023-06-10T21:00:00",
               "updated_at": "2023-06-10T21:00:00", "user_permissions": ["update", "delete"]})
    );
    let r = call(&e, "/api/v2/projects/1/?with_charts=false").await;
    assert_eq!(
        r.body["settings"]["default_processing_pipeline"],
        json!(null)
    );
}

#[tokio::test]
async fn without_the_tables_there_is_no_source_and_no_pipeline() {
    let (_d, e) = world(false).engine().await;
    let r = call(&e, "/api/v2/deployments/2/").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["jobs"], json!([]));
    assert_eq!(r.body["data_source"], json!(null));
    assert_eq!(r.body["data_source_uri"], json!(null));
    let r = call(&e, "/api/v2/projects/2/?with_charts=false").await;
    assert_eq!(
        r.body["settings"]["default_processing_pipeline"],
        json!(null)
    );
}

#[tokio::test]
async fn a_deployments_jobs_are_listed_newest_first_with_their_type() {
    let (_d, e) = world(true).engine().await;
    let r = call(&e, "/api/v2/deployments/2/").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let jobs = r.body["jobs"].as_array().unwrap();
    let ids: Vec<i64> = jobs.iter().map(|j| j["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [2, 1, 3]);
    assert_eq!(
        jobs[1],
        json!({"id": 1, "details": "http://testserver/api/v2/jobs/1/", "status": "SUCCESS",
               "job_type": {"name": "ML pipeline", "key": "ml"},
               "created_at": "2023-06-10T21:00:00", "updated_at": "2023-06-10T21:00:00",
               "user_permissions": ["update", "delete", "run", "run_single_image"]})
    );
    assert_eq!(
        jobs[0]["user_permissions"],
        json!(["update", "delete", "run"])
    );
    assert_eq!(jobs[2]["user_permissions"], json!(["update", "delete"]));
    // The list carries them too; other deployments have none.
    let r = call(&e, "/api/v2/deployments/?project_id=2&ordering=name").await;
    let items = r.body["results"].as_array().unwrap();
    assert_eq!(items[0]["jobs"].as_array().unwrap().len(), 3);
    assert_eq!(items[1]["jobs"], json!([]));
    // A member (BasicMember) may run single-image ml jobs only; anonymous nothing.
    let r = call_as(&e, "/api/v2/deployments/2/", Requester::User(3)).await;
    assert_eq!(
        r.body["jobs"][1]["user_permissions"],
        json!(["run_single_image"])
    );
    assert_eq!(r.body["jobs"][0]["user_permissions"], json!([]));
    let r = call_as(&e, "/api/v2/deployments/2/", Requester::Anonymous).await;
    assert_eq!(r.body["jobs"][1]["user_permissions"], json!([]));
    // Projects by their latest job update: project 2 has jobs, project 1 none (NULLS LAST).
    let r = call(&e, "/api/v2/projects/?ordering=-last_job_updated_at").await;
    let order: Vec<i64> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(order, [2, 1]);
}

#[tokio::test]
async fn a_job_type_antenna_does_not_know_is_its_500() {
    let mut t = world(true);
    t.b.add(
        "jobs_job",
        json!({"id": 9, "created_at": T0, "updated_at": T0, "name": "j", "status": "CREATED",
               "job_type_key": "bogus", "project_id": 2, "deployment_id": 3}),
    );
    let (_d, e) = t.engine().await;
    let r = call(&e, "/api/v2/deployments/3/").await;
    assert_eq!(r.status, 500);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("job_type_key 'bogus'"),
        "{}",
        r.body
    );
    assert_eq!(call(&e, "/api/v2/deployments/2/").await.status, 200);
}
