//! Webhook deliveries: 1,000 notifications queued for one endpoint on loopback (an axum receiver
//! answering 200), then one worker delivers them — queue, row lease, signature, POST, delivery log,
//! completion. Reports deliveries per second at the worker's default concurrency (16 in flight)
//! and one at a time. Needs PostgreSQL server binaries (a private cluster is started in a
//! temporary folder unless DATABASE_URL is set).
//!
//! `cargo bench -p api --bench notify [-- N]` (scripts/bench.sh runs it with the others).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use api::config::NotifyConfig;
use api::jobs::{Worker, WorkerConfig};
use api::model::NotificationType;
use api::services::notifications::{self, Notifier};
use uuid::Uuid;

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1000);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(bench(n))
}

async fn bench(n: usize) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (pool, lake, _cluster) = common::setup(tmp.path()).await?;
    let received = Arc::new(AtomicUsize::new(0));
    let r = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let r = r.clone();
            async move {
                r.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = url::Url::parse(&format!("http://{}/hook", listener.local_addr()?))?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    let user = Uuid::new_v4();
    sqlx::query("INSERT INTO users (id, email, display_name) VALUES ($1, 'bench@example.com', 'bench')").bind(user).execute(&pool).await?;
    let mut c = pool.acquire().await?;
    notifications::webhooks::insert(&mut c, user, &url, &[NotificationType::BacktestComplete]).await?.expect("room for a webhook");
    drop(c);
    let lake = Arc::new(lake);
    println!("webhook deliveries to one endpoint on loopback, {n} queued");
    for concurrency in [16, 1] {
        sqlx::query("DELETE FROM jobs").execute(&pool).await?;
        let before = received.load(Ordering::Relaxed);
        // queue the notifications (each with its webhook job) before the worker starts
        let mut tx = pool.begin().await?;
        for k in 0..n {
            notifications::insert(&mut *tx, user, NotificationType::BacktestComplete, &serde_json::json!({"runId": Uuid::new_v4(), "k": k})).await?;
        }
        tx.commit().await?;
        let notifier = Arc::new(Notifier::new(NotifyConfig { allow_private: true, concurrency, ..NotifyConfig::default() }).map_err(anyhow::Error::msg)?);
        let config = WorkerConfig { id: format!("bench-{concurrency}"), poll: Duration::from_millis(20), paper_scan: Duration::from_secs(3600), ..WorkerConfig::default() };
        let worker = Worker::new(pool.clone(), lake.clone(), config).with_notifier(notifier);
        let (stop, mut rx) = tokio::sync::watch::channel(false);
        let start = Instant::now();
        let handle = tokio::spawn(worker.run(async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
        loop {
            let left: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status <> 'succeeded'").fetch_one(&pool).await?;
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let took = start.elapsed();
        let _ = stop.send(true);
        handle.await??;
        let got = received.load(Ordering::Relaxed) - before;
        let logged: i64 = sqlx::query_scalar("SELECT count(*) FROM notification_deliveries WHERE status = 'delivered'").fetch_one(&pool).await?;
        anyhow::ensure!(got == n, "the receiver got {got} of {n}");
        println!(
            "  {concurrency:>2} in flight: {n} delivered in {:.2} s = {:.0} deliveries/s ({logged} delivered rows in the log so far)",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64()
        );
    }
    Ok(())
}
