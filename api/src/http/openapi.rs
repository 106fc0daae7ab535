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

/// The answers every operation can give besides its own: a shared `Error` schema (the error body)
/// and responses for malformed input (400), a missing or bad token (401, secured operations), an
/// oversized or over-nested body (413, 422: operations with a body), a query value that breaks a
/// rule (422: operations with query parameters) and the rate limit (429,
/// mutating operations), added wherever an operation does not document them itself.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Header, ObjectBuilder, Ref, RefOr, ResponseBuilder, Type};
        let text = || ObjectBuilder::new().schema_type(Type::String);
        let error = ObjectBuilder::new()
            .property(
                "error",
                ObjectBuilder::new()
                    .property("code", text().description(Some("machine-readable, e.g. validation_failed")))
                    .property("message", text())
                    .property("details", ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::AnyValue).description(Some("what is wrong, e.g. the field or the graph's issues; null when nothing more")))
                    .property("timestamp", text().format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime))))
                    .property("requestId", text())
                    .required("code")
                    .required("message")
                    .required("details")
                    .required("timestamp")
                    .required("requestId"),
            )
            .required("error")
            .build();
        let components = openapi.components.get_or_insert_with(Default::default);
        components.schemas.insert("Error".into(), RefOr::T(utoipa::openapi::Schema::Object(error)));
        let json = || ContentBuilder::new().schema(Some(Ref::from_schema_name("Error"))).build();
        let common = [
            ("400", "BadRequest", "malformed input: JSON that does not parse or fit, a bad query parameter or path id"),
            ("401", "Unauthorized", "missing, expired or invalid bearer token"),
            ("413", "PayloadTooLarge", "the body is over the server's limit"),
            ("422", "ValidationFailed", "input that parsed but breaks a rule; details name the field"),
            ("429", "RateLimited", "too many mutating requests; Retry-After says when to try again"),
        ];
        for (status, name, description) in common {
            let mut response = ResponseBuilder::new().description(description).content("application/json", json());
            if status == "429" {
                response = response.header("Retry-After", Header::new(ObjectBuilder::new().schema_type(Type::Integer)));
            }
            components.responses.insert(name.into(), RefOr::T(response.build()));
        }
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                (&mut item.get, false),
                (&mut item.put, true),
                (&mut item.post, true),
                (&mut item.patch, true),
                (&mut item.delete, true),
            ];
            for (op, mutating) in ops {
                let Some(op) = op.as_mut() else { continue };
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_body = op.request_body.is_some();
                let has_query = op.parameters.as_ref().is_some_and(|ps| ps.iter().any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Query));
                for (status, name, _) in common {
                    let wanted = match status {
                        "400" => true,
                        "401" => secured,
                        "413" => has_body,
                        "422" => has_body || has_query,
                        "429" => mutating,
                        _ => false,
                    };
                    if wanted {
                        op.responses.responses.entry(status.to_string()).or_insert_with(|| RefOr::Ref(Ref::new(format!("#/components/responses/{name}"))));
                    }
                }
            }
        }
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
    modifiers(&BearerAuth, &CommonErrors)
)]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
