//! The OpenAPI 3.1 document, generated from the handlers' annotations, at `/api/v1/openapi.json`.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::http::routes::{admin, backtests, billing, cohorts, health, me, notifications, paper_trades, strategies, templates, usage, webhooks, ws};
use crate::state::AppState;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Blockbuilders API", description = "Strategies, versions, backtests, paper trading, cohorts, templates, compliance and more. Errors: {\"error\":{\"code\",\"message\",\"details\",\"timestamp\",\"requestId\"}}."),
    paths(
        health::health,
        health::ready,
        me::me,
        strategies::list,
        strategies::create,
        strategies::fetch,
        strategies::update,
        strategies::archive,
        strategies::create_version,
        strategies::list_versions,
        strategies::fetch_version,
        strategies::validate,
        backtests::create,
        backtests::list,
        backtests::fetch,
        backtests::trades,
        backtests::equity,
        backtests::equity_svg,
        backtests::compare,
        backtests::events,
        paper_trades::create,
        paper_trades::list,
        paper_trades::fetch,
        paper_trades::update,
        paper_trades::fills,
        paper_trades::equity,
        paper_trades::events,
        cohorts::create,
        cohorts::list,
        cohorts::fetch,
        cohorts::update,
        cohorts::remove,
        cohorts::members,
        cohorts::add_member,
        cohorts::remove_member,
        cohorts::analytics,
        templates::create,
        templates::list,
        templates::fetch,
        templates::update,
        templates::clone,
        admin::events,
        admin::event,
        admin::review,
        admin::takedown,
        admin::roles,
        admin::invite,
        usage::plan_usage,
        notifications::list,
        notifications::unread_count,
        notifications::read,
        notifications::read_all,
        notifications::stream,
        notifications::list_deliveries,
        notifications::get_preferences,
        notifications::put_preferences,
        notifications::unsubscribe_page,
        notifications::unsubscribe_one_click,
        webhooks::create,
        webhooks::list,
        webhooks::update,
        webhooks::remove,
        ws::ws,
        billing::fetch,
        billing::checkout,
        billing::portal,
        billing::stripe_webhook,
    ),
    components(schemas(crate::services::users::User, crate::services::strategies::Strategy, crate::services::strategies::Version,
        strategies::CreateStrategy, strategies::UpdateStrategy, strategies::CreateVersion,
        crate::services::backtests::Run, backtests::CreateBacktest, crate::services::backtests::TradeRow,
        crate::services::backtests::EquityPoint, crate::services::backtests::Comparison,
        crate::services::paper_trades::PaperRun, crate::services::paper_trades::Schedule, crate::services::paper_trades::AlertConfig,
        crate::services::paper_trades::PerformanceSnapshot, crate::services::paper_trades::PositionView,
        crate::services::paper_trades::FillRow, crate::services::paper_trades::PaperEquityPoint,
        paper_trades::CreatePaperTrade, paper_trades::ScheduleInput, paper_trades::UpdatePaperTrade, crate::model::PaperStatus,
        crate::services::cohorts::Cohort, crate::services::cohorts::Member, cohorts::CreateCohort, cohorts::UpdateCohort, cohorts::AddMember,
        crate::services::templates::Template, crate::services::templates::TemplateMetadata, crate::services::templates::Cloned,
        templates::CreateTemplate, templates::UpdateTemplate, crate::services::compliance::ComplianceEvent, admin::Review, admin::Takedown,
        admin::SetRoles, admin::Invite, crate::model::AudienceScope, crate::model::TemplateStatus, crate::model::ComplianceEntity,
        crate::model::ComplianceEventType, crate::model::ComplianceStatus,
        crate::services::quotas::Usage, usage::PlanUsage, crate::services::notifications::Notification,
        crate::model::Role, crate::model::PlanTier, crate::model::QuotaMetric, crate::model::Visibility, crate::model::StrategyStatus,
        crate::model::RunStatus, crate::model::NotificationType, crate::model::Channel, crate::model::DeliveryStatus,
        crate::services::notifications::deliveries::Delivery, crate::services::notifications::preferences::Preferences,
        crate::services::notifications::preferences::Channels, crate::services::notifications::preferences::PreferencesPatch,
        crate::services::notifications::preferences::ChannelsPatch, crate::services::notifications::webhooks::Webhook,
        crate::services::notifications::webhooks::Registered, crate::services::notifications::webhooks::NewWebhook, webhooks::UpdateWebhook,
        crate::services::billing::summary::Billing, crate::services::billing::events::Received, crate::services::subscriptions::Subscription,
        billing::CheckoutRequest, billing::SessionUrl, crate::model::SubscriptionStatus)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
