//! The facts of `queries/11_facts.sql` (cached per project for the species list, summary,
//! charts and stats) restate rules that other views define: validity, the project default
//! filters, the best identification, variant S, the last detection, capture and detection
//! counts. On random edge-case snapshots (`differential/world.rs`) with default filters in two
//! projects, each must hold exactly the rows of the view it restates.

mod common;
#[path = "differential/world.rs"]
#[allow(dead_code)] // seed_of: used by differential.rs only
mod world;

use occlens::engine::catalog::Arg;
use occlens::Engine;
use serde_json::json;

async fn strings(engine: &Engine, sql: &str) -> Vec<String> {
    let text = common::table_text(engine, sql).await;
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(1)
        .map(|l| l.split('|').map(str::trim).collect::<Vec<_>>().join("|"))
        .collect();
    lines.sort();
    lines
}

/// `facts` and `reference` give the same rows, and at least `min` of them.
async fn same(engine: &Engine, what: &str, facts: &str, reference: &str, min: usize) {
    let (a, b) = (
        strings(engine, facts).await,
        strings(engine, reference).await,
    );
    assert_eq!(a, b, "{what}: facts\n  {facts}\ndiffer from\n  {reference}");
    assert!(
        a.len() >= min,
        "{what}: {} rows, expected at least {min}",
        a.len()
    );
}

async fn world() -> (tempfile::TempDir, Engine) {
    let mut tiny = common::Tiny::new();
    for seed in 0..40 {
        world::add_seed(&mut tiny.b, seed);
    }
    // Project 1 keeps threshold 0.0 (a NULL score fails) and gets include/exclude lists;
    // project 2 a threshold of 0.6 and no lists.
    tiny.b.add(
        "main_project_default_filters_include_taxa",
        json!({"id": 1, "project_id": 1, "taxon_id": 1}),
    );
    tiny.b.add(
        "main_project_default_filters_include_taxa",
        json!({"id": 2, "project_id": 1, "taxon_id": 5}),
    );
    tiny.b.add(
        "main_project_default_filters_exclude_taxa",
        json!({"id": 1, "project_id": 1, "taxon_id": 3}),
    );
    tiny.b.add(
        "main_project",
        json!({"id": 2, "name": "P2", "default_filters_score_threshold": 0.6, "owner_id": 2}),
    );
    let scores = [None, Some(0.5), Some(0.6), Some(0.9)];
    for k in 0..24i64 {
        let id = 9_000_000 + k;
        let determination = if k % 5 == 4 { None } else { Some(1 + k % 7) };
        tiny.b.add(
            "main_occurrence",
            json!({"id": id, "project_id": 2, "deployment_id": 1,
                   "event_id": if k % 6 == 5 { None } else { Some(1) },
                   "determination_id": determination,
                   "determination_score": scores[(k % 4) as usize],
                   "created_at": common::T0, "updated_at": common::T0}),
        );
        for d in 0..(k % 3) {
            let ts = format!("2023-06-11T0{}:00:00Z", 2 + d);
            tiny.det(id, Some(&ts), None, k % 7 == 3);
        }
    }
    tiny.engine().await
}

#[tokio::test]
async fn occurrence_facts_restate_their_views_row_for_row() {
    let (_dir, e) = world().await;
    let e = &e;
    same(
        e,
        "every occurrence once",
        "SELECT id FROM occurrence_facts",
        "SELECT id FROM main_occurrence",
        50,
    )
    .await;
    same(
        e,
        "validity (spec §3.1)",
        "SELECT id FROM occurrence_facts WHERE is_valid",
        "SELECT id FROM valid_occurrence",
        20,
    )
    .await;
    same(
        e,
        "invalid ones exist",
        "SELECT count(*) > 0 FROM occurrence_facts WHERE NOT is_valid",
        "SELECT true",
        1,
    )
    .await;
    same(
        e,
        "default filters of valid occurrences",
        "SELECT id FROM occurrence_facts WHERE is_valid AND passes_defaults",
        "SELECT id FROM default_filtered_occurrence",
        5,
    )
    .await;
    for project in [1, 2] {
        let defaults = e
            .fragments()
            .bind("defaults", &[("project", Arg::Int(project))]);
        same(e, &format!("project {project}'s default filters, every occurrence"),
             &format!("SELECT id FROM occurrence_facts o WHERE o.project_id = {project} AND o.passes_defaults"),
             &format!("SELECT o.id FROM main_occurrence o WHERE o.project_id = {project} AND {defaults}"),
             3).await;
        same(e, &format!("project {project}: some occurrences fail the defaults"),
             &format!("SELECT count(*) > 0 FROM occurrence_facts WHERE project_id = {project} AND NOT passes_defaults"),
             "SELECT true", 1).await;
    }
    same(
        e,
        "best identification (spec §3.5)",
        "SELECT id, best_user_taxon_id FROM occurrence_facts WHERE identified",
        "SELECT occurrence_id, taxon_id FROM best_identification",
        10,
    )
    .await;
    same(e, "variant S (spec §3.3)",
         "SELECT id, best_machine_taxon_id FROM occurrence_facts WHERE best_machine_taxon_id IS NOT NULL",
         "SELECT occurrence_id, taxon_id FROM best_prediction_s WHERE taxon_id IS NOT NULL", 10).await;
    same(e, "last detection (null markers included)",
         "SELECT id, last_detected FROM occurrence_facts WHERE last_detected IS NOT NULL",
         "SELECT occurrence_id, last_appearance_timestamp FROM detection_aggregates \
          WHERE last_appearance_timestamp IS NOT NULL AND occurrence_id IN (SELECT id FROM main_occurrence)",
         10).await;
    same(
        e,
        "event month",
        "SELECT id, event_month FROM occurrence_facts",
        "SELECT o.id, CAST(date_part('month', wall_clock(e.start)) AS BIGINT) \
          FROM main_occurrence o LEFT JOIN main_event e ON e.id = o.event_id",
        50,
    )
    .await;
}

#[tokio::test]
async fn capture_and_detection_hours_count_every_row_once() {
    let (_dir, e) = world().await;
    let e = &e;
    same(e, "captures per project and hour",
         "SELECT project_id, hour, sum(captures) FROM capture_hours GROUP BY 1, 2",
         "SELECT project_id, CAST(date_part('hour', wall_clock(\"timestamp\")) AS BIGINT), count(*) \
          FROM main_sourceimage GROUP BY 1, 2", 1).await;
    for project in [1, 2] {
        let defaults = e
            .fragments()
            .bind("defaults", &[("project", Arg::Int(project))]);
        same(e, &format!("project {project}'s detections per date and hour passing the defaults"),
             &format!("SELECT day, hour, detections FROM detection_hours \
                       WHERE project_id = {project} AND passes_defaults"),
             &format!("SELECT CAST(wall_clock(s.\"timestamp\") AS DATE), \
                       CAST(date_part('hour', wall_clock(s.\"timestamp\")) AS BIGINT), count(*) \
                       FROM main_detection d JOIN main_occurrence o ON o.id = d.occurrence_id \
                       JOIN main_sourceimage s ON s.id = d.source_image_id \
                       WHERE o.project_id = {project} AND s.\"timestamp\" IS NOT NULL AND {defaults} \
                       GROUP BY 1, 2"),
             1).await;
    }
}
