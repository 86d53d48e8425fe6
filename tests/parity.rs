//! Parity: every recorded Antenna response of ../shared/fixtures/antenna-oracle/api/ must be
//! reproduced from ../shared/fixtures/antenna-oracle/snapshot.

use occlens::compare::compare_responses;
use occlens::output::api::get;
use occlens::views::request::Requester;
use occlens::{Config, Engine};
use serde_json::Value;
use std::io::BufRead;
use std::path::PathBuf;

fn oracle() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/antenna-oracle")
}

fn requester(as_user: &str) -> Requester {
    match as_user {
        "admin@oracle.test" => Requester::Superuser(Some(2)),
        "alice@oracle.test" => Requester::User(3),
        "anonymous" => Requester::Anonymous,
        other => panic!("unknown as_user {other}"),
    }
}

async fn replay(file: &str) -> (usize, Vec<String>) {
    let config = Config {
        api_base: "http://testserver".into(),
        ..Config::default()
    };
    let snapshot = oracle().join("snapshot");
    let engine = Engine::open(Some(snapshot.to_str().unwrap()), config)
        .await
        .expect("open oracle snapshot");
    let gz = std::fs::File::open(oracle().join("api").join(file)).expect("fixture");
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(gz));
    let (mut total, mut failures) = (0, Vec::new());
    for line in reader.lines() {
        let record: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let url = record["url"].as_str().unwrap();
        let who = requester(record["as_user"].as_str().unwrap());
        let response = get(&engine, url, &who)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let status = record["status"].as_u64().unwrap() as u16;
        let mut diffs = compare_responses(
            url,
            status,
            &record["body"],
            response.status,
            &response.body,
        );
        if UNORDERED.contains(&url) {
            diffs = unordered_page(&engine, url, &who, &record["body"]).await;
        }
        total += 1;
        if let Some(first) = diffs.first() {
            failures.push(format!(
                "{url} (as {who:?}): {} differences; first at {}: expected {} got {}",
                diffs.len(),
                first.pointer,
                first.expected,
                first.actual
            ));
        }
    }
    (total, failures)
}

/// Pages without an ordering whose Antenna order was not ascending id (PostgreSQL chose another
/// plan): their rows are an arbitrary slice of the result. Checked as: same count, and every
/// row Antenna returned is in occlens's full result with the same content.
const UNORDERED: &[&str] =
    &["/api/v2/occurrences/?project_id=1&apply_defaults=false&limit=100&verified_by_me=false"];

async fn unordered_page(
    engine: &Engine,
    url: &str,
    who: &Requester,
    expected: &Value,
) -> Vec<occlens::compare::Mismatch> {
    let all = get(
        engine,
        &format!("{}&limit=100000", url.replace("&limit=100", "")),
        who,
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    occlens::compare::compare_values("/count", &expected["count"], &all.body["count"], &mut out);
    for (i, item) in expected["results"].as_array().unwrap().iter().enumerate() {
        match all.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == item["id"])
        {
            Some(ours) => {
                occlens::compare::compare_values(&format!("/results/{i}"), item, ours, &mut out)
            }
            None => out.push(occlens::compare::Mismatch {
                pointer: format!("/results/{i}/id"),
                expected: item["id"].clone(),
                actual: Value::Null,
            }),
        }
    }
    out
}

fn report(name: &str, total: usize, failures: &[String]) {
    eprintln!(
        "{name}: {} of {total} responses match",
        total - failures.len()
    );
    for f in failures.iter().take(40) {
        eprintln!("  {f}");
    }
    assert!(
        failures.is_empty(),
        "{name}: {} of {total} responses differ",
        failures.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_responses_match_antenna() {
    let (total, failures) = replay("occurrences_list.jsonl.gz").await;
    assert_eq!(total, 128);
    report("list", total, &failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detail_responses_match_antenna() {
    let (total, failures) = replay("occurrences_detail.jsonl.gz").await;
    assert_eq!(total, 1774);
    report("detail", total, &failures);
}
