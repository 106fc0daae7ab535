//! The closed sets of the product's data model, one definition each: Rust enums that read and
//! write JSON (serde), TEXT columns (`sqlx::Type`) and the OpenAPI document (utoipa) in the same
//! spelling, and parse from query strings with an error that lists what is allowed.
//! Timeframes (`lake::Timeframe`) and fill policies (`pipelines::backtest::FillPolicy`) are
//! defined where the engine uses them, with the same traits.

use std::fmt;

/// A value outside a closed set: what was given and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not one of {allowed}")]
pub struct UnknownValue {
    pub value: String,
    pub allowed: String,
}

/// Defines a closed set stored as TEXT: the enum, its spellings, `ALL`, `as_str`, `Display`,
/// `FromStr`, serde, `sqlx::Type` (TEXT and TEXT[]) and a utoipa schema.
macro_rules! closed_set {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| UnknownValue {
                    value: s.to_string(),
                    allowed: $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                })
            }
        }

        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl sqlx::postgres::PgHasArrayType for $name {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $name {
            fn encode_by_ref(&self, buf: &mut sqlx::postgres::PgArgumentBuffer) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.as_str(), buf)
            }
        }

        impl sqlx::Decode<'_, sqlx::Postgres> for $name {
            fn decode(value: sqlx::postgres::PgValueRef<'_>) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(<&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?.parse::<$name>()?)
            }
        }
    };
}

closed_set! {
    /// Roles a user may hold (from the token's `app_metadata.roles`).
    Role { Builder = "builder", Educator = "educator", Admin = "admin" }
}

closed_set! {
    /// Plan tiers: the codes of `subscription_plans`.
    PlanTier { Free = "free", Premium = "premium", Educator = "educator" }
}

closed_set! {
    /// Where a subscription stands (Stripe's states that matter to access).
    SubscriptionStatus { Active = "active", PastDue = "past_due", Canceled = "canceled" }
}

closed_set! {
    /// What a plan limits: daily windows for `backtests` and `template_publishes`; `paper_trades`
    /// counts the user's active and scheduled paper-trading runs.
    QuotaMetric { Backtests = "backtests", PaperTrades = "paper_trades", TemplatePublishes = "template_publishes" }
}

closed_set! {
    /// Who may see a strategy.
    Visibility { Private = "private", Cohort = "cohort", Public = "public" }
}

closed_set! {
    /// Where a strategy is in its life.
    StrategyStatus { Draft = "draft", Active = "active", Archived = "archived" }
}

closed_set! {
    /// A backtest run's state.
    RunStatus { Queued = "queued", Running = "running", Succeeded = "succeeded", Failed = "failed" }
}

closed_set! {
    /// A paper-trading run's state (`stopped` is final).
    PaperStatus { Scheduled = "scheduled", Active = "active", Paused = "paused", Stopped = "stopped" }
}

closed_set! {
    /// What a notification is about.
    NotificationType {
        BacktestComplete = "backtest_complete",
        BacktestFailed = "backtest_failed",
        PaperTradeAlert = "paper_trade_alert",
        TemplateShared = "template_shared",
        GovernanceTask = "governance_task",
        System = "system",
    }
}

closed_set! {
    /// How a notification reaches its user.
    Channel { InApp = "in_app", Email = "email", Webhook = "webhook" }
}

closed_set! {
    /// What became of one attempt to deliver a notification by e-mail or webhook.
    DeliveryStatus {
        /// The server took it (2xx, or the SMTP server accepted the message).
        Delivered = "delivered",
        /// It failed and will be tried again (`nextAttemptAt`).
        Retrying = "retrying",
        /// It failed for good: out of attempts, or an answer that no retry changes.
        Failed = "failed",
        /// Not sent: e-mail is off on this server, the user has no address, or the endpoint is disabled.
        Skipped = "skipped",
    }
}

closed_set! {
    /// What a queued job does.
    JobKind { Backtest = "backtest", PaperTick = "paper_tick", Notify = "notify", Export = "export" }
}

closed_set! {
    /// Where a job is in the queue (`dead`: out of attempts, its error kept).
    JobStatus { Queued = "queued", Running = "running", Succeeded = "succeeded", Dead = "dead" }
}

closed_set! {
    /// Who a shared template reaches.
    AudienceScope { Cohort = "cohort", Public = "public" }
}

closed_set! {
    /// Where a shared template is in review.
    TemplateStatus { PendingReview = "pending_review", Published = "published", Rejected = "rejected", TakenDown = "taken_down" }
}

closed_set! {
    /// What a compliance event is about.
    ComplianceEntity { Strategy = "strategy", Template = "template", Cohort = "cohort", Notification = "notification" }
}

closed_set! {
    /// What kind of compliance event it is.
    ComplianceEventType { Disclosure = "disclosure", RiskReview = "risk_review", Takedown = "takedown", Audit = "audit" }
}

closed_set! {
    /// Where a compliance event stands.
    ComplianceStatus { Open = "open", Approved = "approved", Rejected = "rejected", Escalated = "escalated" }
}

impl RunStatus {
    /// Whether the run has ended (succeeded or failed).
    pub fn is_final(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde spells every value as `as_str` does (the macro gives serde `snake_case` of the
    /// variant and `as_str` the literal: they must agree), and `FromStr` reads it back.
    fn round_trips<T>(all: &[T])
    where
        T: Copy + PartialEq + fmt::Debug + fmt::Display + serde::Serialize + std::str::FromStr<Err = UnknownValue>,
    {
        for v in all {
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(v.to_string()), "{v:?}");
            assert_eq!(v.to_string().parse::<T>().unwrap(), *v);
        }
    }

    #[test]
    fn every_value_round_trips_through_its_spelling() {
        round_trips(Role::ALL);
        round_trips(PlanTier::ALL);
        round_trips(SubscriptionStatus::ALL);
        round_trips(QuotaMetric::ALL);
        round_trips(Visibility::ALL);
        round_trips(StrategyStatus::ALL);
        round_trips(RunStatus::ALL);
        round_trips(PaperStatus::ALL);
        round_trips(NotificationType::ALL);
        round_trips(Channel::ALL);
        round_trips(JobKind::ALL);
        round_trips(JobStatus::ALL);
        round_trips(AudienceScope::ALL);
        round_trips(TemplateStatus::ALL);
        round_trips(ComplianceEntity::ALL);
        round_trips(ComplianceEventType::ALL);
        round_trips(ComplianceStatus::ALL);
        assert_eq!(serde_json::from_str::<Channel>("\"in_app\"").unwrap(), Channel::InApp);
        let e = "vwap".parse::<Visibility>().unwrap_err();
        assert_eq!(e.to_string(), "'vwap' is not one of private, cohort, public");
    }
}
