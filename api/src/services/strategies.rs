//! Strategies and their immutable versions: the rules (titles, tags, slugs, a valid graph, who may
//! read and change what) and their SQL. Another user's private strategy is "not found", never
//! "forbidden".

use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::model::{StrategyStatus, Visibility};
use crate::services::users::User;

/// A strategy as the API returns it.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Strategy {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub slug: String,
    pub visibility: Visibility,
    pub status: StrategyStatus,
    pub tags: Vec<String>,
    pub latest_version: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A strategy version (`id` is the `strategyVersionId` backtests take).
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub id: Uuid,
    pub strategy_id: Uuid,
    pub version: i32,
    #[schema(value_type = Object)]
    pub graph_json: Value,
    pub notes: Option<String>,
    pub created_by: Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A new strategy and its first version.
#[derive(Debug, Clone)]
pub struct NewStrategy {
    pub title: String,
    pub visibility: Visibility,
    pub tags: Vec<String>,
    pub graph: Value,
    pub notes: Option<String>,
}

/// Fields to change (`None`: unchanged).
#[derive(Debug, Clone, Default)]
pub struct StrategyPatch {
    pub title: Option<String>,
    pub tags: Option<Vec<String>>,
    pub visibility: Option<Visibility>,
    pub status: Option<StrategyStatus>,
}

/// Filters of a strategy listing.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Everyone's public strategies instead of the caller's own.
    pub public_only: bool,
    pub status: Option<StrategyStatus>,
    pub tag: Option<String>,
    /// Searched in title and slug.
    pub text: Option<String>,
    /// Keyset cursor: strictly after (created_at, id) in descending order.
    pub after: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
    pub limit: i64,
}

const COLUMNS: &str = "id, owner_id, title, slug, visibility, status, tags, latest_version, created_at, updated_at";
const VERSION_COLUMNS: &str = "id, strategy_id, version, graph_json, notes, created_by, created_at";

/// A title: 1 to 200 characters once trimmed.
pub fn title(t: &str) -> ApiResult<String> {
    let t = t.trim();
    if t.is_empty() || t.chars().count() > 200 {
        return Err(ApiError::validation("title must be 1 to 200 characters", json!({"field": "title"})));
    }
    Ok(t.to_string())
}

/// Tags: at most 20, each 1 to 32 characters of a-z, 0-9, - and _ (lower-cased, duplicates dropped).
pub fn tags(tags: &[String]) -> ApiResult<Vec<String>> {
    if tags.len() > 20 {
        return Err(ApiError::validation("at most 20 tags", json!({"field": "tags"})));
    }
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim().to_lowercase();
        if t.is_empty() || t.len() > 32 || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(ApiError::validation(format!("tag '{t}' must be 1 to 32 characters of a-z, 0-9, - and _"), json!({"field": "tags", "value": t})));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// The graph's validator issues as a 422.
pub fn check_graph(graph: &Value) -> ApiResult<()> {
    pipelines::graph::validate(graph)
        .map(|_| ())
        .map_err(|issues| ApiError::validation(format!("the strategy graph has {} issue(s)", issues.len()), json!({"issues": issues})))
}

/// What the validator says of a graph: `{"valid": bool, "issues": [...]}` (nothing is stored).
pub fn validate(graph: &Value) -> Value {
    match pipelines::graph::validate(graph) {
        Ok(_) => json!({"valid": true, "issues": []}),
        Err(issues) => json!({"valid": false, "issues": issues}),
    }
}

/// `My SMA Cross!` → `my-sma-cross`.
pub fn slugify(title: &str) -> String {
    let mut slug = String::new();
    for c in title.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').chars().take(60).collect::<String>().trim_end_matches('-').to_string();
    if slug.is_empty() { "strategy".into() } else { slug }
}

async fn get(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Strategy>> {
    sqlx::query_as::<_, Strategy>(&format!("SELECT {COLUMNS} FROM strategies WHERE id = $1")).bind(id).fetch_optional(db).await
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("strategy {id} not found"))
}

/// A strategy `user` may read: their own, a public one, or any (admins); 404 otherwise.
pub async fn readable(pool: &PgPool, user: &User, id: Uuid) -> ApiResult<Strategy> {
    match get(pool, id).await? {
        Some(s) if user.can_read(s.owner_id, s.visibility) => Ok(s),
        _ => Err(not_found(id)),
    }
}

/// A strategy `user` may change: their own, or any (admins); 404 otherwise.
pub async fn writable(pool: &PgPool, user: &User, id: Uuid) -> ApiResult<Strategy> {
    match get(pool, id).await? {
        Some(s) if user.can_write(s.owner_id) => Ok(s),
        _ => Err(not_found(id)),
    }
}

/// `user`'s strategies (or everyone's public ones), newest first, `limit` of them.
pub async fn list(pool: &PgPool, user: &User, f: &ListFilter) -> ApiResult<Vec<Strategy>> {
    Ok(sqlx::query_as::<_, Strategy>(&format!(
        "SELECT {COLUMNS} FROM strategies
         WHERE ($1::uuid IS NULL OR owner_id = $1)
           AND (NOT $2 OR visibility = 'public')
           AND ($3::text IS NULL OR status = $3)
           AND ($4::text IS NULL OR $4 = ANY(tags))
           AND ($5::text IS NULL OR title ILIKE '%' || $5 || '%' OR slug ILIKE '%' || $5 || '%')
           AND ($6::timestamptz IS NULL OR (created_at, id) < ($6, $7))
         ORDER BY created_at DESC, id DESC
         LIMIT $8"
    ))
    .bind((!f.public_only).then_some(user.id))
    .bind(f.public_only)
    .bind(f.status)
    .bind(f.tag.as_ref().map(|t| t.to_lowercase()))
    .bind(f.text.as_ref().filter(|t| !t.trim().is_empty()))
    .bind(f.after.map(|a| a.0))
    .bind(f.after.map(|a| a.1))
    .bind(f.limit)
    .fetch_all(pool)
    .await?)
}

/// Creates a strategy (a `draft`) with a free slug and its version 1, in one transaction.
pub async fn create(pool: &PgPool, user: &User, new: NewStrategy) -> ApiResult<Strategy> {
    let title = title(&new.title)?;
    let tags = tags(&new.tags)?;
    check_graph(&new.graph)?;
    let base = slugify(&title);
    // a concurrent create may take the same slug: try again with the next free suffix
    for _ in 0..5 {
        let taken: Vec<String> = sqlx::query_scalar("SELECT slug FROM strategies WHERE slug = $1 OR slug LIKE $1 || '-%'").bind(&base).fetch_all(pool).await?;
        let slug = (1..).map(|n| if n == 1 { base.clone() } else { format!("{base}-{n}") }).find(|s| !taken.contains(s)).expect("a free slug");
        let mut tx = pool.begin().await?;
        let inserted = sqlx::query_as::<_, Strategy>(&format!(
            "INSERT INTO strategies (owner_id, title, slug, visibility, tags) VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        ))
        .bind(user.id)
        .bind(&title)
        .bind(&slug)
        .bind(new.visibility)
        .bind(&tags)
        .fetch_one(&mut *tx)
        .await;
        let strategy = match inserted {
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("strategies_slug_key") => continue,
            other => other?,
        };
        insert_version(&mut tx, strategy.id, &new.graph, new.notes.as_deref(), user.id).await?;
        tx.commit().await?;
        return get(pool, strategy.id).await?.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("strategy vanished")));
    }
    Err(ApiError::Conflict("could not find a free slug; try another title".into()))
}

/// Creates the strategy a template clone makes: `user`'s, private, titled after the original
/// with a fresh slug, its version 1 the template's graph, remembering the template (in the
/// caller's transaction).
pub async fn insert_clone(tx: &mut PgConnection, user: &User, original_title: &str, tag_list: &[String], graph: &Value, template: Uuid) -> ApiResult<Strategy> {
    let title: String = format!("{} (clone)", original_title.trim()).chars().take(200).collect();
    let slug = format!("{}-{}", slugify(&title), &Uuid::new_v4().simple().to_string()[..8]);
    let s = sqlx::query_as::<_, Strategy>(&format!(
        "INSERT INTO strategies (owner_id, title, slug, visibility, tags, cloned_from_template_id) VALUES ($1, $2, $3, 'private', $4, $5) RETURNING {COLUMNS}"
    ))
    .bind(user.id)
    .bind(&title)
    .bind(&slug)
    .bind(tag_list)
    .bind(template)
    .fetch_one(&mut *tx)
    .await?;
    insert_version(tx, s.id, graph, Some("cloned from a template"), user.id).await?;
    Ok(sqlx::query_as::<_, Strategy>(&format!("SELECT {COLUMNS} FROM strategies WHERE id = $1")).bind(s.id).fetch_one(&mut *tx).await?)
}

/// Changes the given fields of a strategy `user` may change; a change of visibility is recorded
/// in the audit trail.
pub async fn update(pool: &PgPool, user: &User, id: Uuid, patch: StrategyPatch) -> ApiResult<Strategy> {
    let before = writable(pool, user, id).await?;
    let title = patch.title.as_deref().map(title).transpose()?;
    let tags = patch.tags.as_deref().map(tags).transpose()?;
    let mut tx = pool.begin().await?;
    let s = sqlx::query_as::<_, Strategy>(&format!(
        "UPDATE strategies SET title = COALESCE($2, title), tags = COALESCE($3, tags), visibility = COALESCE($4, visibility),
             status = COALESCE($5, status), updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(title)
    .bind(tags)
    .bind(patch.visibility)
    .bind(patch.status)
    .fetch_optional(&mut *tx)
    .await?;
    let s = s.ok_or_else(|| not_found(id))?;
    if s.visibility != before.visibility {
        crate::services::audit::append(&mut tx, crate::services::audit::Change {
            actor: Some(user.id),
            action: "strategy.visibility_changed",
            entity_type: "strategy",
            entity_id: id.to_string(),
            before: Some(json!({"visibility": before.visibility})),
            after: Some(json!({"visibility": s.visibility})),
        })
        .await?;
    }
    tx.commit().await?;
    Ok(s)
}

/// Adds version `latest_version + 1` (the row lock serialises concurrent creators, so numbers never repeat).
async fn insert_version(tx: &mut PgConnection, strategy: Uuid, graph: &Value, notes: Option<&str>, by: Uuid) -> sqlx::Result<Version> {
    let n: i32 = sqlx::query_scalar("UPDATE strategies SET latest_version = latest_version + 1, updated_at = now() WHERE id = $1 RETURNING latest_version")
        .bind(strategy)
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query_as::<_, Version>(&format!(
        "INSERT INTO strategy_versions (strategy_id, version, graph_json, notes, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING {VERSION_COLUMNS}"
    ))
    .bind(strategy)
    .bind(n)
    .bind(graph)
    .bind(notes)
    .bind(by)
    .fetch_one(&mut *tx)
    .await
}

/// Adds the next version of a strategy `user` may change.
pub async fn create_version(pool: &PgPool, user: &User, id: Uuid, graph: &Value, notes: Option<&str>) -> ApiResult<Version> {
    writable(pool, user, id).await?;
    check_graph(graph)?;
    let mut tx = pool.begin().await?;
    let v = insert_version(&mut tx, id, graph, notes, user.id).await?;
    tx.commit().await?;
    Ok(v)
}

/// Every version of a strategy `user` may read, newest first.
pub async fn versions(pool: &PgPool, user: &User, id: Uuid) -> ApiResult<Vec<Version>> {
    readable(pool, user, id).await?;
    Ok(sqlx::query_as::<_, Version>(&format!("SELECT {VERSION_COLUMNS} FROM strategy_versions WHERE strategy_id = $1 ORDER BY version DESC"))
        .bind(id)
        .fetch_all(pool)
        .await?)
}

/// Version `n` of a strategy `user` may read.
pub async fn version(pool: &PgPool, user: &User, id: Uuid, n: i32) -> ApiResult<Version> {
    readable(pool, user, id).await?;
    sqlx::query_as::<_, Version>(&format!("SELECT {VERSION_COLUMNS} FROM strategy_versions WHERE strategy_id = $1 AND version = $2"))
        .bind(id)
        .bind(n)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("version {n} of strategy {id} not found")))
}

/// The graph of a strategy version `user` may read (their own or a public strategy's); 404 otherwise.
pub async fn readable_graph(db: impl PgExecutor<'_>, user: &User, version_id: Uuid) -> ApiResult<Value> {
    let row = sqlx::query_as::<_, (Uuid, Visibility, Value)>(
        "SELECT s.owner_id, s.visibility, v.graph_json FROM strategy_versions v JOIN strategies s ON s.id = v.strategy_id WHERE v.id = $1",
    )
    .bind(version_id)
    .fetch_optional(db)
    .await?;
    match row {
        Some((owner, visibility, graph)) if user.can_read(owner, visibility) => Ok(graph),
        _ => Err(ApiError::NotFound(format!("strategy version {version_id} not found"))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs() {
        assert_eq!(super::slugify("My SMA Cross!"), "my-sma-cross");
        assert_eq!(super::slugify("  --  "), "strategy");
        assert_eq!(super::slugify("Ünïcode & RSI 14"), "n-code-rsi-14");
    }
}
