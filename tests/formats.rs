//! The data-tool export formats (ndjson, csv, parquet) and export targets, on a tiny snapshot.

mod common;

use common::{call_as, Tiny, T0};
use datafusion::prelude::ParquetReadOptions;
use occlens::api::request::Requester;
use occlens::engine::related::RelatedFor;
use occlens::exports::json_export::{write, Framing};
use occlens::exports::target::Target;
use occlens::exports::text_csv;
use serde_json::Value;

fn world() -> Tiny {
    let mut t = Tiny::new();
    let d = t.simple(1, 4, 0.9);
    t.cls(d, Some(3), Some(4), Some(0.9), true);
    t.simple(2, 6, 0.5);
    t.ident(2, Some(3), Some(6), false, "2023-06-12T00:00:00Z");
    t.occ(3, None, None); // invalid: never exported
    t.det(3, Some(T0), None, false);
    t
}

#[tokio::test]
async fn ndjson_lines_are_the_api_objects() {
    let (_d, e) = world().engine().await;
    for (shape, url) in [
        (RelatedFor::List, None),
        (RelatedFor::Detail, Some("/api/v2/occurrences/{id}/")),
    ] {
        let framing = Framing::Lines(shape, Requester::Anonymous);
        let (rows, out) = write(&e, 1, None, Vec::new(), &framing, &|_| {})
            .await
            .unwrap();
        assert_eq!(rows, 2);
        let text = String::from_utf8(out).unwrap();
        // One object per line, each line ended (the last one too).
        assert_eq!(text.matches('\n').count(), 2, "{text}");
        assert!(text.ends_with("}\n"), "{text}");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let expected: Vec<Value> = match url {
            None => {
                let r = call_as(
                    &e,
                    "/api/v2/occurrences/?project_id=1&ordering=id",
                    Requester::Anonymous,
                )
                .await;
                r.body["results"].as_array().unwrap().clone()
            }
            Some(u) => {
                let mut v = vec![];
                for id in [1, 2] {
                    let r = call_as(
                        &e,
                        &u.replace("{id}", &id.to_string()),
                        Requester::Anonymous,
                    )
                    .await;
                    v.push(r.body);
                }
                v
            }
        };
        assert_eq!(lines, expected);
    }
}

#[tokio::test]
async fn csv_columns_and_parquet_structs() {
    let (_d, e) = world().engine().await;
    let cols = vec![
        "id".to_string(),
        "determination_name".into(),
        "best_prediction_score".into(),
        "verified".into(),
        "first_appearance_timestamp".into(),
    ];
    let df = e
        .flat_frame("occurrence_flat", 1, None, Some(&cols))
        .await
        .unwrap();
    let mut out = Vec::new();
    text_csv::write(df.execute_stream().await.unwrap(), &mut out, &|_| {})
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "id,determination_name,best_prediction_score,verified,first_appearance_timestamp\r\n\
         1,Agrotis ipsilon,0.9,false,2023-06-10T21:00:00\r\n\
         2,Tipula paludosa,,true,2023-06-10T21:00:00\r\n"
    );
    let bad = e
        .flat_frame("occurrence_flat", 1, None, Some(&["nope".to_string()]))
        .await
        .err()
        .unwrap();
    assert!(bad
        .to_string()
        .starts_with("--columns: unknown column nope (expected some of: id, "));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.parquet");
    let df = e
        .flat_frame("occurrence_nested", 1, None, None)
        .await
        .unwrap();
    let options = datafusion::dataframe::DataFrameWriteOptions::new().with_single_file_output(true);
    df.write_parquet(path.to_str().unwrap(), options, None)
        .await
        .unwrap();
    let ctx = datafusion::prelude::SessionContext::new();
    let read = ctx
        .read_parquet(path.to_str().unwrap(), ParquetReadOptions::default())
        .await
        .unwrap();
    let batches = read
        .select_exprs(&[
            "id",
            "best_prediction['name']",
            "best_prediction['score']",
            "best_identification['user']",
        ])
        .unwrap()
        .collect()
        .await
        .unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    assert!(text.contains("| 1  | Agrotis ipsilon"), "{text}");
    assert!(text.contains("| 0.9 "), "{text}");
    assert!(text.contains("| 2  |") && text.contains("Alice"), "{text}");
}

#[tokio::test]
async fn object_store_target_uploads_only_when_complete() {
    use object_store::{memory::InMemory, path::Path, ObjectStoreExt};
    let store = std::sync::Arc::new(InMemory::new());
    let target = Target::Store {
        url: url::Url::parse("s3://bucket/exports/a.csv").unwrap(),
        store: store.clone(),
        path: Path::from("exports/a.csv"),
        overwrite: false,
    };
    let tmp = target.temp();
    std::fs::write(tmp.path(), b"id\r\n1\r\n").unwrap();
    let tmp_path = tmp.path().to_path_buf();
    assert!(store.head(&Path::from("exports/a.csv")).await.is_err());
    assert_eq!(target.commit(tmp).await.unwrap(), 7);
    let got = store
        .get(&Path::from("exports/a.csv"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], b"id\r\n1\r\n");
    assert!(!tmp_path.exists());
    // The object exists now: replaced only with overwrite.
    let tmp = target.temp();
    std::fs::write(tmp.path(), b"other").unwrap();
    let e = target.commit(tmp).await.unwrap_err().to_string();
    assert!(e.contains("--overwrite"), "{e}");
    assert!(Target::parse("http://host/x.csv", false).is_err());
    assert!(Target::parse("s3://bucket/prefix/", false).is_err());
    assert!(Target::parse("/no/such/dir/x.csv", false).is_err());
    assert!(Target::parse("", false).is_err());
}
