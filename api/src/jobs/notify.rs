//! A `notify` job: one delivery of a notification (webhook or e-mail) or a user's digest, through
//! `services::notifications::job`; a failed attempt comes back with the delay before the next.

use sqlx::PgPool;

use super::error::JobError;
use crate::services::jobs::Job;
use crate::services::notifications::deliver::{Next, Notifier};
use crate::services::notifications::job;

pub async fn execute(pool: &PgPool, notifier: &Notifier, j: &Job) -> Result<(), JobError> {
    match job::run(pool, notifier, j.notification_id, &j.payload, j.attempts).await {
        Ok(Next::Done) => Ok(()),
        Ok(Next::RetryIn(after, error)) => Err(JobError::RetryAfter(error, after)),
        Err(e) => Err(JobError::Transient(format!("{e:#}"))),
    }
}
