//! `taxa_list_csv` (antenna-exports-dwca.md §3, 39-column version) on a tiny snapshot.

mod common;

use common::Tiny;
use occlens::exports::text_csv;
use serde_json::json;

fn world() -> Tiny {
    let mut t = Tiny::new();
    let b = &mut t.b;
    b.add(
        "main_project",
        json!({"id": 2, "name": "P2", "default_filters_score_threshold": 0.5}),
    );
    b.add(
        "main_sourceimage",
        json!({"id": 2, "path": "b.jpg", "deployment_id": 1}),
    );
    b.add(
        "main_sourceimagecollection",
        json!({"id": 7, "name": "half", "project_id": 2}),
    );
    b.add(
        "main_sourceimagecollection_images",
        json!({"id": 1, "sourceimagecollection_id": 7, "sourceimage_id": 2}),
    );
    b.add("main_taxon", json!({"id": 50, "name": "Aglais io", "rank": "SPECIES", "display_name": "Peacock",
        "parents_json": [{"id": 51, "name": "Animalia", "rank": "KINGDOM"}, {"id": 52, "name": "Nymphalidae", "rank": "FAMILY"}],
        "gbif_taxon_key": 123, "inat_taxon_id": 456, "bold_taxon_bin": "BOLD:AAA1234", "fieldguide_id": "fg-1",
        "cover_image_url": "https://img.test/io.jpg"}));
    b.add("main_taxon", json!({"id": 53, "name": "Polygonia c-album", "rank": "SPECIES", "parents_json": [], "gbif_taxon_key": 0}));
    // (occurrence, taxon, score, detection instants (UTC), capture)
    let rows: &[(i64, i64, f64, &[&str], i64)] = &[
        (1, 50, 0.6, &["2023-06-11T02:00:00Z"], 2), // 22:00 local, in the collection
        (2, 50, 0.8, &["2023-06-11T06:00:00Z"], 1), // 02:00 local, next day
        (
            3,
            50,
            1.0,
            &["2023-06-11T03:00:00Z", "2023-06-11T03:30:00Z"],
            1,
        ), // 23:00, 30 minutes
        (4, 53, 0.1, &["2023-06-11T03:00:00Z"], 1), // below the threshold
        (5, 53, 0.9, &["2023-06-11T03:00:00Z"], 1),
    ];
    let mut det = 100;
    for (id, taxon, score, instants, capture) in rows {
        b.add(
            "main_occurrence",
            json!({"id": id, "project_id": 2, "event_id": null,
            "determination_id": taxon, "determination_score": score}),
        );
        for ts in *instants {
            det += 1;
            b.add(
                "main_detection",
                json!({"id": det, "occurrence_id": id, "source_image_id": capture,
                "timestamp": ts, "bbox": [1, 2, 3, 4]}),
            );
        }
    }
    t
}

async fn csv(t: &Tiny, collection: Option<i64>) -> String {
    let (_d, e) = t.engine().await;
    let stream = e.taxa_list_stream(2, collection).await.unwrap();
    let mut out = Vec::new();
    text_csv::write(stream, &mut out, &|_| {}).await.unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn per_taxon_rows_exactly() {
    let text = csv(&world(), None).await;
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "id,name,display_name,rank,common_name_en,kingdom,phylum,class,order,family,subfamily,tribe,genus,species,\
direct_occurrences_count,min_score,max_score,avg_score,session_day_min,session_day_max,session_day_median,\
session_time_min,session_time_max,session_time_median,session_month_min,session_month_max,session_month_mean,\
min_duration_seconds,max_duration_seconds,avg_duration_seconds,gbif_taxon_key,gbif_url,inat_taxon_id,inat_url,\
bold_taxon_bin,bold_url,fieldguide_id,fieldguide_url,cover_image_url"
    );
    assert_eq!(lines[0].split(',').count(), 39);
    assert_eq!(
        lines[1],
        "50,Aglais io,Peacock,SPECIES,,Animalia,,,,Nymphalidae,,,,Aglais io,3,0.6000,1.0000,0.8000,161,162,161,\
22:00:00,02:00:00,23:00:00,6,6,6.0,1800,1800,1800,123,https://www.gbif.org/species/123,456,\
https://www.inaturalist.org/taxa/456,BOLD:AAA1234,\
https://www.boldsystems.org/index.php/Public_BarcodeIndexNumber_RecordView?searchtype=records&recordID=BOLD:AAA1234,\
fg-1,https://fieldguide.app/taxa/fg-1,https://img.test/io.jpg"
    );
    assert_eq!(
        lines[2],
        "53,Polygonia c-album,,SPECIES,,,,,,,,,,Polygonia c-album,1,0.9000,0.9000,0.9000,161,161,161,\
23:00:00,23:00:00,23:00:00,6,6,6.0,,,,,,,,,,,,"
    );
    assert_eq!(lines[3], "");
    assert_eq!(lines.len(), 4);
}

#[tokio::test]
async fn collection_counts_each_occurrence_once() {
    let text = csv(&world(), Some(7)).await;
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[1].starts_with("50,Aglais io,Peacock,SPECIES,,Animalia,,,,Nymphalidae,,,,Aglais io,1,0.6000,0.6000,0.6000,"));
}

/// Means come from exact sums: the same rows stored in any order give the same text, the
/// mean of the exact sum (a running float sum gives 0.4548 or 17 in some orders).
#[tokio::test]
async fn means_do_not_depend_on_the_order_of_rows() {
    // (score, second detection's instant: the first is at 03:00:00)
    let rows = [
        (0.963, "2023-06-11T03:00:27.1Z"),
        (0.317, "2023-06-11T03:00:20.7Z"),
        (0.13, "2023-06-11T03:00:21.9Z"),
        (0.409, "2023-06-11T03:00:00.3Z"),
    ];
    let n = rows.len();
    let orders = (0..n.pow(n as u32))
        .map(|k| (0..n).map(|i| k / n.pow(i as u32) % n).collect::<Vec<_>>())
        .filter(|order| (0..n).all(|i| order.contains(&i)));
    for order in orders {
        let mut t = Tiny::new();
        for (i, (score, last)) in order.iter().map(|&k| rows[k]).enumerate() {
            let id = 10 + i as i64;
            t.b.add(
                "main_occurrence",
                json!({"id": id, "project_id": 1, "event_id": null,
                "determination_id": 4, "determination_score": score}),
            );
            for (n, ts) in ["2023-06-11T03:00:00Z", last].into_iter().enumerate() {
                t.b.add(
                    "main_detection",
                    json!({"id": id * 10 + n as i64, "occurrence_id": id, "source_image_id": 1,
                    "timestamp": ts, "bbox": [1, 2, 3, 4]}),
                );
            }
        }
        let (_d, e) = t.engine().await;
        let mut out = Vec::new();
        let stream = e.taxa_list_stream(1, None).await.unwrap();
        text_csv::write(stream, &mut out, &|_| {}).await.unwrap();
        let text = String::from_utf8(out).unwrap();
        let row: Vec<&str> = text.split("\r\n").nth(1).unwrap().split(',').collect();
        // avg_score (fixed4) and avg_duration_seconds (half to even)
        assert_eq!(
            (row[0], row[14], row[17], row[29]),
            ("4", "4", "0.4547", "18"),
            "rows in order {order:?}: {text}"
        );
    }
}
