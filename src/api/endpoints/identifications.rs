//! `GET /api/v2/identifications/` and `…/<id>/` (Antenna 731cc2a2: IdentificationViewSet of
//! ami/main/api/views.py with IdentificationSerializer): every identification the requester
//! sees (those of occurrences of visible projects), the filterset (`occurrence`, `user`,
//! `taxon`), Meta ordering by `-created_at`. SQL: queries/identifications.sql.

use crate::api::endpoints::{
    key_pointer, list_or_detail, list_order, EndpointAnswer, Endpoints, Order,
};
use crate::api::params::Params;
use crate::api::request::{ApiError, Requester};
use crate::api::shape::{IdentificationPermissions, Shaper};
use crate::engine::catalog::Arg;
use crate::engine::rows::RowExt;

/// `IdentificationViewSet.ordering_fields`, with the column each sorts by.
const ORDERING: &[(&str, &str)] = &[
    ("created_at", "i.created_at"),
    ("updated_at", "i.updated_at"),
    ("user", "i.user_id"),
];

/// The filterset's fields (ModelChoiceFilter), with the column and the table of the choices.
const FILTERS: &[(&str, &str, &str)] = &[
    ("occurrence", "i.occurrence_id", "main_occurrence"),
    ("user", "i.user_id", "users_user"),
    ("taxon", "i.taxon_id", "main_taxon"),
];

pub async fn get(e: &Endpoints<'_>, tail: &[&str]) -> EndpointAnswer {
    match list_or_detail(tail) {
        Some(id) => answer(e, id).await,
        None => Ok(Err(ApiError::not_found())),
    }
}

/// How `occlens verify` compares a list: by its `ordering` terms, else by `created_at`
/// (Meta ordering; ties in any order).
pub fn order(p: &Params, tail: &[&str]) -> Option<Order> {
    let names: Vec<&str> = ORDERING.iter().map(|(n, _)| *n).collect();
    let pointer = |f: &str| match f {
        "user" => "/user/id".to_string(),
        f => key_pointer(f),
    };
    tail.is_empty()
        .then(|| list_order(p, &names, &["/created_at"], pointer))
}

async fn answer(e: &Endpoints<'_>, id: Option<i64>) -> EndpointAnswer {
    let p = e.params;
    let scope = match e.who {
        Requester::Superuser(_) => "TRUE".to_string(),
        _ => e.sql(
            "identifications.visible",
            &[("visible", Arg::Sql(&e.visible_projects()))],
        ),
    };
    let mut filter = vec!["TRUE".to_string()];
    if let Some(id) = id {
        filter.push(format!("i.id = {id}"));
    }
    // ModelChoiceFilters, for the detail too (get_object filters the queryset first): a value
    // that names no row is a 400.
    let fields: Vec<(&str, &str)> = FILTERS.iter().map(|(k, _, t)| (*k, *t)).collect();
    match e.model_choices(&fields).await? {
        Ok(chosen) => {
            for (i, id) in chosen {
                filter.push(format!("{} = {id}", FILTERS[i].1));
            }
        }
        Err(err) => return Ok(Err(err)),
    }
    let names: Vec<&str> = ORDERING.iter().map(|(n, _)| *n).collect();
    let mut order: Vec<String> = p
        .ordering(&names)
        .iter()
        .filter_map(|(field, desc)| {
            let column = ORDERING.iter().find(|(n, _)| n == field)?.1;
            Some(format!(
                "{column} {} NULLS LAST",
                if *desc { "DESC" } else { "ASC" }
            ))
        })
        .collect();
    if order.is_empty() {
        order.push("i.created_at DESC".into());
    }
    // Ties: id ascending, the order PostgreSQL gave (rows stored in id order; DISTINCT, for
    // non-superusers, sorts on the id after the ordering's keys).
    order.push("i.id ASC".into());
    let (filter, order) = (filter.join(" AND "), order.join(", "));
    let sql = e.sql(
        "identifications.rows",
        &[
            ("scope", Arg::Sql(&scope)),
            ("filter", Arg::Sql(&filter)),
            ("order", Arg::Sql(&order)),
        ],
    );
    let rows = e.rows(&sql).await?;
    let dims = e.engine.dims().await?;
    let shaper = Shaper::api(dims, &e.engine.config, e.who);
    // DefaultSerializer's permissions: a superuser's `update` and `delete`; a project
    // manager's (its owner's) on the identifications of its project; the occurrence's the
    // superuser's only (no role holds `update_occurrence`).
    let item = |r: &crate::engine::rows::Row| {
        let superuser = matches!(e.who, Requester::Superuser(_));
        let manager = superuser || dims.manages(e.who.user_id(), r.i64("project_id"));
        let both: &[&str] = &["update", "delete"];
        let perms = IdentificationPermissions {
            identification: if manager { both } else { &[] },
            occurrence: if superuser { both } else { &[] },
        };
        shaper.identification_item(r, &perms)
    };
    // ObjectPermission: Identification.check_permission is false without a project (an
    // occurrence without one), for everyone.
    if id.is_some() && rows.first().is_some_and(|r| r.i64("project_id").is_none()) {
        let message = "You do not have permission to perform this action.";
        return Ok(Err(ApiError::detail(403, message.into())));
    }
    Ok(e.paged(id, &rows, |r| Some(item(r)), None))
}
