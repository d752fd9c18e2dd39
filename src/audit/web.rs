//! `/audit`: the account's audit log, filtered by object, person or token, action and time,
//! newest first, 50 records a page. Read-only: there is no route that changes a record.

use askama::Template;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use super::store::{self, Filter, Record};
use super::{Action, ObjectKind};
use crate::auth::{CurrentUser, Permission};
use crate::dates::filters;
use crate::error::{AppError, AppResult};
use crate::layout::{page, Layout, Nav};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(log))
}

#[derive(Deserialize, Default)]
pub struct LogQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    object: String,
    #[serde(default)]
    who: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    before: Option<i64>,
}

#[derive(Template)]
#[template(path = "audit/log.html")]
struct AuditPage {
    layout: Layout,
    q: LogQuery,
    records: Vec<Record>,
    kinds: Vec<(&'static str, &'static str)>,
    actions: Vec<(&'static str, &'static str)>,
    actors: Vec<(String, String)>,
    filtered: bool,
    newest_url: Option<String>,
    older_url: Option<String>,
}
page!(AuditPage);

/// `2026-12-01T10:00` (a `datetime-local` input), read as UTC.
pub fn parse_local_utc(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S"))
        .ok()
        .map(|t| t.and_utc())
}

fn bad(what: &str) -> AppError {
    AppError::BadRequest(format!("The {what} filter is not valid. Clear it and try again."))
}

/// The query string's filters, checked: an unknown value is a clear 400, not an empty page.
fn filter_of(q: &LogQuery) -> AppResult<Filter> {
    let text = |raw: &str, max: usize, what: &str| -> AppResult<Option<String>> {
        let t = raw.trim();
        if t.is_empty() {
            Ok(None)
        } else if t.len() > max || t.chars().any(char::is_control) {
            Err(bad(what))
        } else {
            Ok(Some(t.to_string()))
        }
    };
    let time = |raw: &str, what: &str| -> AppResult<Option<DateTime<Utc>>> {
        if raw.trim().is_empty() {
            Ok(None)
        } else {
            parse_local_utc(raw).map(Some).ok_or_else(|| bad(what))
        }
    };
    Ok(Filter {
        object_kind: match q.kind.trim() {
            "" => None,
            k => Some(ObjectKind::parse(k).ok_or_else(|| bad("object type"))?),
        },
        object_id: text(&q.object, 64, "object")?,
        actor_id: text(&q.who, 64, "who")?,
        action: match q.action.trim() {
            "" => None,
            a => Some(Action::parse(a).ok_or_else(|| bad("action"))?),
        },
        from: time(&q.from, "from")?,
        to: time(&q.to, "to")?,
        before: match q.before {
            Some(b) if b < 1 => return Err(bad("page")),
            b => b,
        },
    })
}

fn url_with(q: &LogQuery, before: Option<i64>) -> String {
    let mut url = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("kind", &q.kind),
        ("object", &q.object),
        ("who", &q.who),
        ("action", &q.action),
        ("from", &q.from),
        ("to", &q.to),
    ] {
        if !v.trim().is_empty() {
            url.append_pair(k, v.trim());
        }
    }
    if let Some(b) = before {
        url.append_pair("before", &b.to_string());
    }
    let query = url.finish();
    if query.is_empty() {
        "/audit".to_string()
    } else {
        format!("/audit?{query}")
    }
}

async fn log(
    State(state): State<AppState>,
    user: CurrentUser,
    layout: Layout,
    Query(q): Query<LogQuery>,
) -> AppResult<AuditPage> {
    user.require(Permission::ManageUsers)?;
    let filter = filter_of(&q)?;
    let (records, more) = store::page(&state.pool, &user.account_id, &filter).await?;
    let older_url = if more {
        records.last().map(|r| url_with(&q, Some(r.id)))
    } else {
        None
    };
    let newest_url = filter.before.map(|_| url_with(&q, None));
    let filtered = [&q.kind, &q.object, &q.who, &q.action, &q.from, &q.to]
        .iter()
        .any(|v| !v.trim().is_empty());
    Ok(AuditPage {
        layout: layout.titled("Audit log", Nav::Audit),
        actors: store::actors(&state.pool, &user.account_id).await?,
        kinds: ObjectKind::ALL.iter().map(|k| (k.as_str(), k.label())).collect(),
        actions: Action::ALL.iter().map(|a| (a.as_str(), a.label())).collect(),
        records,
        q,
        filtered,
        newest_url,
        older_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_are_utc() {
        let t = parse_local_utc("2026-12-01T10:00").expect("parses");
        assert_eq!(t.to_rfc3339(), "2026-12-01T10:00:00+00:00");
        assert!(parse_local_utc("yesterday").is_none());
    }

    #[test]
    fn unknown_filters_are_refused() {
        let q = LogQuery {
            action: "webhook.exploded".into(),
            ..LogQuery::default()
        };
        assert!(filter_of(&q).is_err());
        let q = LogQuery {
            before: Some(0),
            ..LogQuery::default()
        };
        assert!(filter_of(&q).is_err());
    }
}
