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
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
