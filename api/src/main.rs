//! `bb`: the Blockbuilders command line (parses arguments, starts tracing, runs the subcommand).

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = api::cli::Cli::parse();
    // long-running services log their jobs and sessions; one-shot commands only warnings
    let default = if cli.command.is_service() { "warn,api=info,deltalake_core::operations::merge=error" } else { "warn,deltalake_core::operations::merge=error" };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("BB_LOG").unwrap_or_else(|_| default.into()))
        .with_writer(std::io::stderr)
        .init();
    match api::cli::run(cli).await {
        Ok(code) => code,
        // the reader went away (`bb sql ... | head`): stop quietly, as Unix tools do
        Err(e) if broken_pipe(&e) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Whether the error is stdout's reader going away (directly, or inside the CSV or JSON writer).
fn broken_pipe(e: &anyhow::Error) -> bool {
    let pipe = |io: &std::io::Error| io.kind() == std::io::ErrorKind::BrokenPipe;
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(pipe)
            || c.downcast_ref::<csv::Error>().is_some_and(|e| matches!(e.kind(), csv::ErrorKind::Io(io) if pipe(io)))
            || c.downcast_ref::<serde_json::Error>().is_some_and(|e| e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}
