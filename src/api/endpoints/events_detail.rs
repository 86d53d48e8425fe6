//! `GET /api/v2/events/<id>/` (Antenna 731cc2a2: `EventViewSet.retrieve` with
//! `EventSerializer`; `Event.stats`, `Event.first_capture`, `Event.summary_data` in
//! ami/main/models.py, the charts `event_detections_per_hour` / `event_top_taxa` in
//! ami/main/charts.py, `EventSerializer.get_capture_page_offset`). SQL: queries/events.sql.

use super::events::{capture, common, finish, members, no_start, perms, scope, thumbnails, Roles};
use super::events_params::{fromisoformat, pg_instant};
use super::pg_sort::{nulls_last, pg_qsort, pg_top_n};
use crate::api::endpoints::{EndpointAnswer, Endpoints, Model};
use crate::api::params::path_id;
use crate::api::params::{py_int, quote_plus, PyInt};
use crate::api::request::ApiError;
use crate::engine::catalog::Arg;
use crate::engine::rows::{Row, RowExt};
use crate::error::Result;
use crate::render::media::media_url;
use serde_json::{json, Map, Value};

type Reply<T> = Result<std::result::Result<T, ApiError>>;

/// `capture_page_offset`: the count of the event's captures before the subject capture, or
/// the raw `offset` parameter (a string), or null.
#[derive(Debug, Clone, PartialEq)]
enum PageOffset {
    Count(i64),
    Raw(String),
    Absent,
}

pub async fn detail(e: &Endpoints<'_>, segment: &str) -> EndpointAnswer {
    let (_, mut conditions) = match scope(e).await? {
        Ok(s) => s,
        Err(err) => return Ok(Err(err)),
    };
    let Some(id) = path_id(segment) else {
        return Ok(Err(ApiError::not_found()));
    };
    conditions.push(e.sql("events.id", &[("id", Arg::Int(id))]));
    let scope_sql = conditions.join(" AND ");
    // The detail has no taxa_count annotation (the serializer calls the 0 stub), and
    // `.get()` drops any ordering.
    let sql = e.sql(
        "events.rows",
        &[
            ("scope", Arg::Sql(&scope_sql)),
            ("taxa_join", Arg::Sql("")),
            ("taxa_count", Arg::Sql("0")),
            ("order", Arg::Sql("id ASC")),
            ("limit", Arg::Int(1)),
            ("offset", Arg::Int(0)),
        ],
    );
    let rows = e.rows(&sql).await?;
    let Some(r) = rows.first() else {
        return Ok(Err(ApiError::not_found()));
    };
    let offset = match page_offset(e, id).await? {
        Ok(o) => o,
        Err(err) => return Ok(Err(err)),
    };
    let event = Arg::Int(id);
    let stats = e.rows(&e.sql("events.stats", &[("event", event)])).await?;
    let first = e
        .rows(&e.sql("events.first_capture", &[("event", event)]))
        .await?;
    let first = first.first();
    let projects = [
        r.i64("deployment_project_id"),
        first.and_then(|c| c.i64("project_id")),
    ];
    let members = members(e, projects.into_iter()).await?;
    let Some(mut m) = common(e, r, &members) else {
        return Ok(Err(no_start()));
    };
    let stat = |k: &str| {
        stats
            .first()
            .and_then(|s| s.get(k).cloned())
            .unwrap_or(Value::Null)
    };
    m.insert(
        "stats".into(),
        json!({"detections_max_count": stat("detections_max_count"),
               "detections_min_count": stat("detections_min_count")}),
    );
    m.insert("taxa_count".into(), json!(0));
    m.insert("captures".into(), json!(captures_url(e, id, &offset)));
    let first_capture = match first {
        Some(c) => Value::Object(first_capture(e, c, &members).await?),
        None => Value::Null,
    };
    m.insert("first_capture".into(), first_capture);
    m.insert(
        "summary_data".into(),
        summary_data(e, id, r.i64("project_id")).await?,
    );
    let offset = match offset {
        PageOffset::Count(n) => json!(n),
        PageOffset::Raw(s) => json!(s),
        PageOffset::Absent => Value::Null,
    };
    m.insert("capture_page_offset".into(), offset);
    finish(e, r, &mut m);
    Ok(Ok(Value::Object(m)))
}

fn server_error(what: &str) -> ApiError {
    ApiError::detail(
        500,
        format!("Server Error: {what} (Antenna's get_capture_page_offset fails)"),
    )
}

/// An id parameter read by `Model.objects.get(pk=v)`: a 500 unless it is an integer.
fn lookup_id(v: &str, name: &str) -> std::result::Result<i64, ApiError> {
    match py_int(v) {
        Some(PyInt::Int(id)) => Ok(id),
        Some(PyInt::Big) => Err(server_error(&format!("no {name} {v}"))),
        None => Err(server_error(&format!("{name} {v:?} is not an integer"))),
    }
}

/// `EventSerializer.get_capture_page_offset`: the first of `capture`, `timestamp`,
/// `detection`, `occurrence` that is given names the subject capture.
async fn page_offset(e: &Endpoints<'_>, event: i64) -> Reply<PageOffset> {
    let p = e.params;
    let one = |sql: String| async move {
        Ok::<_, crate::error::Error>(e.rows(&sql).await?.into_iter().next())
    };
    let subject: Option<Row> = if let Some(v) = p.given("capture") {
        let id = match lookup_id(v, "capture") {
            Ok(id) => id,
            Err(err) => return Ok(Err(err)),
        };
        match one(e.sql("events.capture_subject", &[("capture", Arg::Int(id))])).await? {
            Some(c) => Some(c),
            None => return Ok(Err(server_error(&format!("no capture {id}")))),
        }
    } else if let Some(v) = p.given("timestamp") {
        let Some((reading, utc_offset)) = fromisoformat(v) else {
            return Ok(Err(server_error(&format!(
                "timestamp {v:?} is not ISO 8601"
            ))));
        };
        let ts = pg_instant(reading, utc_offset, e.engine.config.time_zone);
        let sql = e.sql(
            "events.capture_at",
            &[("event", Arg::Int(event)), ("ts", Arg::Int(ts))],
        );
        one(sql).await?
    } else if let Some(v) = p.given("detection") {
        let id = match lookup_id(v, "detection") {
            Ok(id) => id,
            Err(err) => return Ok(Err(err)),
        };
        let found = one(e.sql("events.detection_capture", &[("detection", Arg::Int(id))])).await?;
        let Some(capture) = found.and_then(|d| d.i64("capture_id")) else {
            return Ok(Err(server_error(&format!("no detection {id}"))));
        };
        match one(e.sql("events.capture_subject", &[("capture", Arg::Int(capture))])).await? {
            Some(c) => Some(c),
            None => return Ok(Err(server_error(&format!("no capture {capture}")))),
        }
    } else if let Some(v) = p.given("occurrence") {
        let id = match lookup_id(v, "occurrence") {
            Ok(id) => id,
            Err(err) => return Ok(Err(err)),
        };
        let exists = one(e.sql("events.occurrence_exists", &[("occurrence", Arg::Int(id))]))
            .await?
            .and_then(|r| r.i64("n"))
            .unwrap_or(0);
        if exists == 0 {
            return Ok(Err(server_error(&format!("no occurrence {id}"))));
        }
        one(e.sql(
            "events.occurrence_first_capture",
            &[("occurrence", Arg::Int(id))],
        ))
        .await?
    } else {
        None
    };
    let Some((subject, subject_event)) = subject.and_then(|s| s.i64("event_id").map(|ev| (s, ev)))
    else {
        return Ok(Ok(match p.last("offset") {
            Some(o) => PageOffset::Raw(o.to_string()),
            None => PageOffset::Absent,
        }));
    };
    if subject_event != event {
        return Ok(Err(server_error(&format!(
            "capture {} is in event {subject_event}, not {event} (AssertionError)",
            subject.i64("id").unwrap_or_default()
        ))));
    }
    let Some(ts) = subject.i64("timestamp") else {
        return Ok(Err(server_error(
            "the capture has no timestamp (timestamp__lt=None)",
        )));
    };
    let sql = e.sql(
        "events.captures_before",
        &[("event", Arg::Int(event)), ("ts", Arg::Int(ts))],
    );
    let n = one(sql).await?.and_then(|r| r.i64("n")).unwrap_or(0);
    Ok(Ok(PageOffset::Count(n)))
}

/// `EventSerializer.get_captures`: `urlencode({"event", "ordering": "timestamp"[, "offset"]})`,
/// the offset only when truthy (0 and "" are not).
fn captures_url(e: &Endpoints<'_>, event: i64, offset: &PageOffset) -> String {
    let mut url = format!(
        "{}/api/v2/captures/?event={event}&ordering=timestamp",
        e.base()
    );
    match offset {
        PageOffset::Count(n) if *n != 0 => url.push_str(&format!("&offset={n}")),
        PageOffset::Raw(s) if !s.is_empty() => {
            url.push_str("&offset=");
            url.push_str(&quote_plus(s));
        }
        _ => {}
    }
    url
}

/// `EventCaptureNestedSerializer` of the first capture, with its detections.
async fn first_capture(e: &Endpoints<'_>, c: &Row, members: &Roles) -> Result<Map<String, Value>> {
    let id = c.i64("id").unwrap_or_default();
    let mut m = capture(e, c);
    m.insert(
        "detections_count".into(),
        c.get("detections_count").cloned().unwrap_or(Value::Null),
    );
    let mut rows = e
        .rows(&e.sql("events.capture_detections", &[("capture", Arg::Int(id))]))
        .await?;
    // Detection.Meta.ordering = frame_num, timestamp (ASC, NULLs last), without tiebreaker.
    pg_qsort(&mut rows, |a, b| {
        nulls_last(a.i64("frame_num"), b.i64("frame_num"))
            .then_with(|| nulls_last(a.i64("timestamp"), b.i64("timestamp")))
    });
    let detections: Vec<Value> = rows.iter().map(|d| detection(e, d)).collect();
    m.insert("detections".into(), Value::Array(detections));
    m.insert("thumbnails".into(), thumbnails(e, c));
    m.insert(
        "user_permissions".into(),
        perms(e, Model::Capture, c.i64("project_id"), members),
    );
    Ok(m)
}

/// `CaptureDetectionsSerializer` (`occurrence_meets_criteria` from the row: the captures
/// endpoint's annotation; null here, where nothing annotates it).
pub(super) fn detection(e: &Endpoints<'_>, d: &Row) -> Value {
    let id = d.i64("id").unwrap_or_default();
    let occurrence = match d.i64("occurrence_id") {
        Some(o) => {
            let determination = match d.i64("taxon_id") {
                Some(t) => json!({
                    "id": t, "name": d["taxon_name"], "rank": d["taxon_rank"],
                    "details": e.link("taxa", t), "gbif_taxon_key": d["gbif_taxon_key"],
                    "fieldguide_id": d["fieldguide_id"], "inat_taxon_id": d["inat_taxon_id"],
                    "cover_image_url": d["cover_image_url"], "cover_image_credit": d["cover_image_credit"],
                    "user_permissions": e.permissions(Model::Taxon, false),
                }),
                None => Value::Null,
            };
            json!({
                "id": o, "details": e.link("occurrences", o), "determination": determination,
                "determination_score": d["determination_score"],
                "user_permissions": e.permissions(Model::CaptureOccurrence, false),
            })
        }
        None => Value::Null,
    };
    let bbox = d
        .str("bbox")
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .unwrap_or(Value::Null);
    json!({
        "id": id, "details": e.link("detections", id),
        "url": media_url(d.str("path"), &e.engine.config.media_url),
        "width": null, "height": null, "bbox": bbox, "occurrence": occurrence,
        "classifications": format!("{}/api/v2/classifications/?detection={id}", e.base()),
        "occurrence_meets_criteria": d.get("occurrence_meets_criteria").cloned().unwrap_or(Value::Null),
        "user_permissions": e.permissions(Model::Detection, false),
    })
}

/// `Event.summary_data()`: the two charts, computed without the request (the default filters
/// of the event's project always apply; none when the event has no project).
async fn summary_data(e: &Endpoints<'_>, event: i64, project: Option<i64>) -> Result<Value> {
    let (in_project, defaults) = match project {
        Some(p) => (
            e.sql("events.occurrence_project", &[("project", Arg::Int(p))]),
            e.sql("defaults", &[("project", Arg::Int(p))]),
        ),
        None => (
            e.sql("events.occurrence_no_project", &[]),
            "TRUE".to_string(),
        ),
    };
    let args = [
        ("event", Arg::Int(event)),
        ("occurrence_project", Arg::Sql(&in_project)),
        ("defaults", Arg::Sql(&defaults)),
    ];
    let hours = e.rows(&e.sql("events.detections_per_hour", &args)).await?;
    let mut pairs: Vec<(i64, Value)> = hours
        .iter()
        .filter_map(|h| Some((h.i64("hour")?, h.get("n").cloned()?)))
        .collect();
    // shift_to_nighttime: start at the first hour after noon.
    if let Some(split) = pairs.iter().position(|(h, _)| *h > 12) {
        pairs.rotate_left(split);
    }
    let x: Vec<String> = pairs.iter().map(|(h, _)| hour_label(*h)).collect();
    let y: Vec<Value> = pairs.into_iter().map(|(_, n)| n).collect();
    let ticktext: Vec<String> = match (x.first(), x.last()) {
        (Some(a), Some(b)) => vec![format!("{a}:00"), format!("{b}:00")],
        _ => Vec::new(),
    };
    let taxa = e.rows(&e.sql("events.top_taxa", &args)).await?;
    // ORDER BY count DESC LIMIT 10 over the name-ordered groups, as PostgreSQL sorts it;
    // then reversed for the horizontal bars.
    let mut top = pg_top_n(&taxa, 10, |a, b| b.i64("n").cmp(&a.i64("n")));
    top.reverse();
    let counts: Vec<i64> = top.iter().map(|t| t.i64("n").unwrap_or(0)).collect();
    let names: Vec<&str> = top
        .iter()
        .map(|t| t.str("name").filter(|n| !n.is_empty()).unwrap_or("Unknown"))
        .collect();
    Ok(json!([
        {"title": "Detections per hour", "data": {"x": x, "y": y, "ticktext": ticktext}, "type": "bar"},
        {"title": "Top species", "data": {"x": counts, "y": names}, "type": "bar", "orientation": "h"},
    ]))
}

/// `strftime("%-I:00 %p")` of an hour of the day.
fn hour_label(hour: i64) -> String {
    let h = hour.rem_euclid(24);
    let twelve = if h % 12 == 0 { 12 } else { h % 12 };
    format!("{twelve}:00 {}", if h < 12 { "AM" } else { "PM" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hour_labels_and_query_values_follow_python() {
        assert_eq!(hour_label(0), "12:00 AM");
        assert_eq!(hour_label(12), "12:00 PM");
        assert_eq!(hour_label(21), "9:00 PM");
        assert_eq!(hour_label(4), "4:00 AM");
        assert_eq!(quote_plus("7 8/é~*"), "7+8%2F%C3%A9~%2A");
    }
}
