//! Templates: an educator publishes one of their strategy versions to a cohort (live at once, for
//! its members) or to everyone (after an admin's risk review). Students clone a template into a
//! strategy of their own. Admins review, and take down what must go. Every such decision is a
//! compliance event and an audit record, written in the transaction that makes it.
//!
//! Who sees a template: its educator and admins always; anyone else only a published one that is
//! public or shared with a cohort they belong to. Anything else is "not found".

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::model::{AudienceScope, ComplianceEntity, ComplianceEventType, ComplianceStatus, NotificationType, QuotaMetric, Role, TemplateStatus};
use crate::services::audit::{self, Change};
use crate::services::compliance::{self, ComplianceEvent};
use crate::services::strategies::{self, Strategy};
use crate::services::users::User;
use crate::services::{notifications, quotas};

/// What a template says about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateMetadata {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Shown to whoever clones it.
    #[serde(default)]
    pub disclaimers: Vec<String>,
}

impl TemplateMetadata {
    fn checked(self) -> ApiResult<Self> {
        if self.description.chars().count() > 5000 {
            return Err(ApiError::invalid("metadata.description", "metadata.description must be at most 5000 characters"));
        }
        let tags = strategies::tags(&self.tags).map_err(|_| ApiError::invalid("metadata.tags", "metadata.tags: at most 20 tags of 1 to 50 characters"))?;
        if self.disclaimers.len() > 20 || self.disclaimers.iter().any(|d| d.trim().is_empty() || d.chars().count() > 2000) {
            return Err(ApiError::invalid("metadata.disclaimers", "metadata.disclaimers: at most 20, each 1 to 2000 characters"));
        }
        let disclaimers = self.disclaimers.iter().map(|d| d.trim().to_string()).collect();
        Ok(TemplateMetadata { description: self.description.trim().to_string(), tags, disclaimers })
    }
}

/// A template as the API returns it.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub id: Uuid,
    pub strategy_version_id: Uuid,
    pub strategy_id: Uuid,
    /// The strategy's title.
    pub title: String,
    pub educator_id: Uuid,
    pub educator_name: String,
    pub audience_scope: AudienceScope,
    pub cohort_id: Option<Uuid>,
    #[sqlx(json)]
    pub metadata: TemplateMetadata,
    pub clone_count: i32,
    /// pending_review (public, before review), published, rejected or taken_down.
    pub status: TemplateStatus,
    pub review_note: Option<String>,
    pub takedown_reason: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

const COLUMNS: &str = "t.id, t.strategy_version_id, v.strategy_id, s.title, t.educator_id, u.display_name AS educator_name, t.audience_scope,
    t.cohort_id, t.metadata, t.clone_count, t.status, t.review_note, t.takedown_reason, t.created_at, t.updated_at";
const FROM: &str = "template_shares t JOIN strategy_versions v ON v.id = t.strategy_version_id JOIN strategies s ON s.id = v.strategy_id
    JOIN users u ON u.id = t.educator_id";
/// Who sees a template: $1 the caller, $2 whether an admin.
const VISIBLE: &str = "($2 OR t.educator_id = $1 OR (t.status = 'published' AND (t.audience_scope = 'public'
    OR t.cohort_id IN (SELECT cohort_id FROM cohort_members WHERE user_id = $1))))";

fn not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("template {id} not found"))
}

async fn get_any(db: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Template>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM {FROM} WHERE t.id = $1")).bind(id).fetch_optional(db).await
}

/// A template `user` may see; 404 otherwise.
pub async fn visible(pool: &PgPool, user: &User, id: Uuid) -> ApiResult<Template> {
    let t: Option<Template> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM {FROM} WHERE t.id = $3 AND {VISIBLE}"))
        .bind(user.id)
        .bind(user.is_admin())
        .bind(id)
        .fetch_optional(pool)
        .await?;
    t.ok_or_else(|| not_found(id))
}

/// A template to publish.
#[derive(Debug, Clone)]
pub struct NewTemplate {
    pub strategy_version_id: Uuid,
    pub audience_scope: AudienceScope,
    pub cohort_id: Option<Uuid>,
    pub metadata: TemplateMetadata,
}

/// Publishes one of `user`'s versions (an educator's): to a cohort they run, live at once; or to
/// everyone, `pending_review` with a `risk_review` event the admins are told of. Consumes one
/// `template_publishes` unit; a refused request writes nothing.
pub async fn publish(pool: &PgPool, user: &User, new: NewTemplate) -> ApiResult<Template> {
    user.require(Role::Educator)?;
    let metadata = new.metadata.checked()?;
    let owner: Option<Uuid> = sqlx::query_scalar("SELECT s.owner_id FROM strategy_versions v JOIN strategies s ON s.id = v.strategy_id WHERE v.id = $1")
        .bind(new.strategy_version_id)
        .fetch_optional(pool)
        .await?;
    if !owner.is_some_and(|o| user.can_write(o)) {
        return Err(ApiError::NotFound(format!("strategy version {} not found", new.strategy_version_id)));
    }
    match (new.audience_scope, new.cohort_id) {
        (AudienceScope::Cohort, None) => return Err(ApiError::invalid("cohortId", "a cohort template needs cohortId")),
        (AudienceScope::Public, Some(_)) => return Err(ApiError::invalid("cohortId", "a public template has no cohortId")),
        (AudienceScope::Cohort, Some(c)) => {
            let educator: Option<Uuid> = sqlx::query_scalar("SELECT educator_id FROM cohorts WHERE id = $1").bind(c).fetch_optional(pool).await?;
            if !educator.is_some_and(|e| e == user.id || user.is_admin()) {
                return Err(ApiError::NotFound(format!("cohort {c} not found")));
            }
        }
        (AudienceScope::Public, None) => {}
    }
    let status = match new.audience_scope {
        AudienceScope::Cohort => TemplateStatus::Published,
        AudienceScope::Public => TemplateStatus::PendingReview,
    };
    let mut tx = pool.begin().await?;
    if let Err(over) = quotas::consume(&mut tx, user.id, QuotaMetric::TemplatePublishes).await? {
        return Err(over.into());
    }
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO template_shares (strategy_version_id, educator_id, audience_scope, cohort_id, metadata, status) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(new.strategy_version_id)
    .bind(user.id)
    .bind(new.audience_scope)
    .bind(new.cohort_id)
    .bind(sqlx::types::Json(&metadata))
    .bind(status)
    .fetch_one(&mut *tx)
    .await?;
    let t = get_any(&mut tx, id).await?.ok_or_else(|| not_found(id))?;
    let snapshot = serde_json::to_value(&t).unwrap_or(Value::Null);
    if status == TemplateStatus::PendingReview {
        let payload = json!({"templateId": id, "title": t.title, "educatorId": user.id, "strategyVersionId": t.strategy_version_id, "metadata": metadata});
        let event = compliance::insert(&mut tx, ComplianceEntity::Template, id, ComplianceEventType::RiskReview, &payload, ComplianceStatus::Open, Some(user.id)).await?;
        compliance::notify_reviewers(&mut tx, &json!({"task": "risk_review", "eventId": event, "templateId": id, "title": t.title,
            "message": format!("review \"{}\" before it is published to everyone", t.title)})).await?;
    }
    let action = if status == TemplateStatus::Published { "template.published" } else { "template.submitted_for_review" };
    audit::append(&mut tx, Change { actor: Some(user.id), action, entity_type: "template", entity_id: id.to_string(), before: None, after: Some(snapshot) }).await?;
    tx.commit().await?;
    Ok(t)
}

/// How template listings sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Newest,
    MostCloned,
}

/// Filters of a template listing.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub tag: Option<String>,
    /// Searched in the title and description.
    pub text: Option<String>,
    pub educator: Option<Uuid>,
    pub sort: Sort,
    pub offset: i64,
    pub limit: i64,
}

/// The templates `user` may see.
pub async fn list(pool: &PgPool, user: &User, f: &Filter) -> ApiResult<Vec<Template>> {
    let order = match f.sort {
        Sort::Newest => "t.created_at DESC, t.id DESC",
        Sort::MostCloned => "t.clone_count DESC, t.created_at DESC, t.id DESC",
    };
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE {VISIBLE}
           AND ($3::text IS NULL OR t.metadata -> 'tags' ? lower($3))
           AND ($4::text IS NULL OR s.title ILIKE '%' || $4 || '%' OR t.metadata ->> 'description' ILIKE '%' || $4 || '%')
           AND ($5::uuid IS NULL OR t.educator_id = $5)
         ORDER BY {order} OFFSET $6 LIMIT $7"
    ))
    .bind(user.id)
    .bind(user.is_admin())
    .bind(&f.tag)
    .bind(&f.text)
    .bind(f.educator)
    .bind(f.offset)
    .bind(f.limit)
    .fetch_all(pool)
    .await?)
}

/// A clone: the new strategy and the disclaimers to show.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cloned {
    pub strategy: Strategy,
    pub cloned_from_template_id: Uuid,
    pub disclaimers: Vec<String>,
}

/// Clones a template `user` may see into a private strategy of theirs (version 1 = the template's
/// graph) and counts the clone, in one transaction (the template's row lock makes concurrent
/// clones count one each).
pub async fn clone(pool: &PgPool, user: &User, id: Uuid) -> ApiResult<Cloned> {
    let mut tx = pool.begin().await?;
    let hit: Option<(Uuid, sqlx::types::Json<TemplateMetadata>)> =
        sqlx::query_as(&format!("UPDATE template_shares t SET clone_count = clone_count + 1 WHERE t.id = $3 AND {VISIBLE} RETURNING strategy_version_id, metadata"))
            .bind(user.id)
            .bind(user.is_admin())
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let (version, metadata) = hit.ok_or_else(|| not_found(id))?;
    let (title, graph): (String, Value) =
        sqlx::query_as("SELECT s.title, v.graph_json FROM strategy_versions v JOIN strategies s ON s.id = v.strategy_id WHERE v.id = $1").bind(version).fetch_one(&mut *tx).await?;
    let strategy = strategies::insert_clone(&mut tx, user, &title, &metadata.tags, &graph, id).await?;
    tx.commit().await?;
    Ok(Cloned { strategy, cloned_from_template_id: id, disclaimers: metadata.0.disclaimers })
}

/// Changes a template's metadata (its educator, or an admin); changed disclaimers are recorded as
/// a `disclosure` event and in the audit trail.
pub async fn update_metadata(pool: &PgPool, user: &User, id: Uuid, metadata: TemplateMetadata) -> ApiResult<Template> {
    let metadata = metadata.checked()?;
    let mut tx = pool.begin().await?;
    let before = sqlx::query_as::<_, Template>(&format!("SELECT {COLUMNS} FROM {FROM} WHERE t.id = $1 FOR UPDATE OF t")).bind(id).fetch_optional(&mut *tx).await?;
    let before = match before {
        Some(t) if user.can_write(t.educator_id) => t,
        _ => return Err(not_found(id)),
    };
    sqlx::query("UPDATE template_shares SET metadata = $2, updated_at = now() WHERE id = $1").bind(id).bind(sqlx::types::Json(&metadata)).execute(&mut *tx).await?;
    if before.metadata.disclaimers != metadata.disclaimers {
        let payload = json!({"templateId": id, "before": before.metadata.disclaimers, "after": metadata.disclaimers});
        compliance::insert(&mut tx, ComplianceEntity::Template, id, ComplianceEventType::Disclosure, &payload, ComplianceStatus::Approved, Some(user.id)).await?;
        audit::append(&mut tx, Change { actor: Some(user.id), action: "template.disclaimers_changed", entity_type: "template", entity_id: id.to_string(),
            before: Some(json!({"disclaimers": before.metadata.disclaimers})), after: Some(json!({"disclaimers": metadata.disclaimers})) }).await?;
    }
    let t = get_any(&mut tx, id).await?.ok_or_else(|| not_found(id))?;
    tx.commit().await?;
    Ok(t)
}

/// An admin's decision on an open or escalated compliance event. Approving a template's risk
/// review publishes it; rejecting keeps it hidden and tells its educator (`governance_task`).
pub async fn review(pool: &PgPool, admin: &User, event_id: Uuid, status: ComplianceStatus, note: Option<&str>) -> ApiResult<ComplianceEvent> {
    admin.require(Role::Admin)?;
    if status == ComplianceStatus::Open {
        return Err(ApiError::invalid("status", "status must be approved, rejected or escalated"));
    }
    let mut tx = pool.begin().await?;
    let event = compliance::lock(&mut tx, event_id).await?.ok_or_else(|| ApiError::NotFound(format!("compliance event {event_id} not found")))?;
    if !matches!(event.status, ComplianceStatus::Open | ComplianceStatus::Escalated) {
        return Err(ApiError::Conflict(format!("compliance event {event_id} is already {}", event.status)));
    }
    compliance::resolve(&mut tx, event_id, status, admin.id, note).await?;
    audit::append(&mut tx, Change { actor: Some(admin.id), action: "compliance.reviewed", entity_type: "compliance_event", entity_id: event_id.to_string(),
        before: Some(json!({"status": event.status})), after: Some(json!({"status": status, "note": note})) }).await?;
    if event.entity_type == ComplianceEntity::Template && event.event_type == ComplianceEventType::RiskReview {
        let template = event.entity_id;
        let before = get_any(&mut tx, template).await?;
        let target = match status {
            ComplianceStatus::Approved => Some(TemplateStatus::Published),
            ComplianceStatus::Rejected => Some(TemplateStatus::Rejected),
            _ => None,
        };
        if let (Some(before), Some(target)) = (before.filter(|t| t.status == TemplateStatus::PendingReview), target) {
            sqlx::query("UPDATE template_shares SET status = $2, review_note = $3, updated_at = now() WHERE id = $1").bind(template).bind(target).bind(note).execute(&mut *tx).await?;
            let after = get_any(&mut tx, template).await?;
            let action = if target == TemplateStatus::Published { "template.published" } else { "template.rejected" };
            audit::append(&mut tx, Change { actor: Some(admin.id), action, entity_type: "template", entity_id: template.to_string(),
                before: serde_json::to_value(&before).ok(), after: serde_json::to_value(&after).ok() }).await?;
            let message = match target {
                TemplateStatus::Published => format!("\"{}\" passed review and is published to everyone", before.title),
                _ => format!("\"{}\" was not approved for public release{}", before.title, note.map(|n| format!(": {n}")).unwrap_or_default()),
            };
            notifications::insert(&mut *tx, before.educator_id, NotificationType::GovernanceTask, &json!({"task": "review_decision", "templateId": template,
                "status": target, "note": note, "message": message})).await?;
        }
    }
    let event = compliance::lock(&mut tx, event_id).await?.ok_or_else(|| ApiError::NotFound(format!("compliance event {event_id} not found")))?;
    tx.commit().await?;
    Ok(event)
}

/// Takes a template down at once (an admin): hidden from every list, read and clone but its
/// educator's and admins'; clones already made stay. Records a `takedown` event and an audit record
/// and tells the educator.
pub async fn takedown(pool: &PgPool, admin: &User, id: Uuid, reason: &str) -> ApiResult<Template> {
    admin.require(Role::Admin)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(ApiError::invalid("reason", "reason must be 1 to 2000 characters"));
    }
    let mut tx = pool.begin().await?;
    let before = sqlx::query_as::<_, Template>(&format!("SELECT {COLUMNS} FROM {FROM} WHERE t.id = $1 FOR UPDATE OF t")).bind(id).fetch_optional(&mut *tx).await?.ok_or_else(|| not_found(id))?;
    if before.status == TemplateStatus::TakenDown {
        return Err(ApiError::Conflict(format!("template {id} is already taken down")));
    }
    sqlx::query("UPDATE template_shares SET status = 'taken_down', takedown_reason = $2, updated_at = now() WHERE id = $1").bind(id).bind(reason).execute(&mut *tx).await?;
    let after = get_any(&mut tx, id).await?.ok_or_else(|| not_found(id))?;
    compliance::insert(&mut tx, ComplianceEntity::Template, id, ComplianceEventType::Takedown, &json!({"templateId": id, "reason": reason, "previousStatus": before.status}),
        ComplianceStatus::Approved, Some(admin.id)).await?;
    audit::append(&mut tx, Change { actor: Some(admin.id), action: "template.taken_down", entity_type: "template", entity_id: id.to_string(),
        before: serde_json::to_value(&before).ok(), after: serde_json::to_value(&after).ok() }).await?;
    notifications::insert(&mut *tx, before.educator_id, NotificationType::GovernanceTask, &json!({"task": "takedown", "templateId": id, "reason": reason,
        "message": format!("\"{}\" was taken down: {reason}", before.title)})).await?;
    tx.commit().await?;
    Ok(after)
}
