//! Compliance events: reviewable records about an entity (a template's risk review before public
//! release, a takedown, a disclosure when disclaimers change), their listing for admins, and the
//! governance tasks that tell reviewers and educators what needs them.

use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::model::{ComplianceEntity, ComplianceEventType, ComplianceStatus, NotificationType};
use crate::services::notifications;

/// A compliance event as the API returns it.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceEvent {
    pub id: Uuid,
    pub entity_type: ComplianceEntity,
    pub entity_id: Uuid,
    pub event_type: ComplianceEventType,
    /// Evidence: what was reviewed or changed, notes of the decision.
    #[schema(value_type = Object)]
    pub payload: Value,
    pub status: ComplianceStatus,
    pub created_by: Option<Uuid>,
    pub resolved_by: Option<Uuid>,
    pub resolved_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

const COLUMNS: &str = "id, entity_type, entity_id, event_type, payload, status, created_by, resolved_by, resolved_at, created_at";

/// Records an event (in the caller's transaction); `status` is `open` for one that awaits a
/// reviewer, `approved` for a plain record.
pub async fn insert(tx: &mut PgConnection, entity: ComplianceEntity, id: Uuid, kind: ComplianceEventType, payload: &Value, status: ComplianceStatus, by: Option<Uuid>) -> sqlx::Result<Uuid> {
    let resolved = status != ComplianceStatus::Open;
    sqlx::query_scalar(
        "INSERT INTO compliance_events (entity_type, entity_id, event_type, payload, status, created_by, resolved_by, resolved_at)
         VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7 THEN $6 END, CASE WHEN $7 THEN now() END) RETURNING id",
    )
    .bind(entity)
    .bind(id)
    .bind(kind)
    .bind(payload)
    .bind(status)
    .bind(by)
    .bind(resolved)
    .fetch_one(&mut *tx)
    .await
}

pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<ComplianceEvent>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM compliance_events WHERE id = $1")).bind(id).fetch_optional(db).await
}

/// Locks event `id` for the caller's transaction.
pub async fn lock(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<ComplianceEvent>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM compliance_events WHERE id = $1 FOR UPDATE")).bind(id).fetch_optional(&mut *tx).await
}

/// Filters of the events listing.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<ComplianceStatus>,
    pub event_type: Option<ComplianceEventType>,
    pub entity_type: Option<ComplianceEntity>,
    pub entity_id: Option<Uuid>,
    pub after: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
    pub limit: i64,
}

/// Events newest first.
pub async fn list(db: impl PgExecutor<'_>, f: &Filter) -> sqlx::Result<Vec<ComplianceEvent>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM compliance_events
         WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR event_type = $2) AND ($3::text IS NULL OR entity_type = $3)
           AND ($4::uuid IS NULL OR entity_id = $4) AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6))
         ORDER BY created_at DESC, id DESC LIMIT $7"
    ))
    .bind(f.status)
    .bind(f.event_type)
    .bind(f.entity_type)
    .bind(f.entity_id)
    .bind(f.after.map(|a| a.0))
    .bind(f.after.map(|a| a.1))
    .bind(f.limit)
    .fetch_all(db)
    .await
}

/// Resolves a locked event: its new status, who decided, and the note added to its payload.
pub async fn resolve(tx: &mut PgConnection, id: Uuid, status: ComplianceStatus, by: Uuid, note: Option<&str>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE compliance_events SET status = $2, resolved_by = $3, resolved_at = now(),
             payload = payload || jsonb_build_object('decision', jsonb_build_object('status', $2::text, 'note', $4::text, 'by', $3, 'at', now()))
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(by)
    .bind(note)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A `governance_task` notification for every admin (the reviewers).
pub async fn notify_reviewers(tx: &mut PgConnection, payload: &Value) -> sqlx::Result<u64> {
    let admins: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM users WHERE 'admin' = ANY (roles)").fetch_all(&mut *tx).await?;
    for a in &admins {
        notifications::insert(&mut *tx, *a, NotificationType::GovernanceTask, payload).await?;
    }
    Ok(admins.len() as u64)
}

/// Events created in `[from, to)`, oldest first (with their evidence payloads).
pub async fn between(db: impl PgExecutor<'_>, from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>) -> sqlx::Result<Vec<ComplianceEvent>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM compliance_events WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at, id")).bind(from).bind(to).fetch_all(db).await
}
