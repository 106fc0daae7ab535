//! `bb`: the Blockbuilders command line (parses arguments, starts logs and traces, runs the subcommand).

use std::any::Any;
use std::panic::AssertUnwindSafe;

use clap::Parser;
use futures::FutureExt;

fn main() -> std::process::ExitCode {
    let cli = api::cli::Cli::parse();
    // long-running services log their jobs and sessions; one-shot commands only warnings
    // (the Delta kernel logs each failure it also returns, raw; the returned error is what is shown)
    let default = if cli.command.is_service() {
        "warn,api=info,deltalake_core::operations::merge=error,buoyant_kernel=off"
    } else {
        "warn,deltalake_core::operations::merge=error,buoyant_kernel=off"
    };
    // before the runtime: the OTLP exporter's blocking HTTP client must not live inside it
    let telemetry = match api::telemetry::init(default) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let code = runtime.block_on(run(cli));
    drop(runtime);
    drop(telemetry);
    code
}

async fn run(cli: api::cli::Cli) -> std::process::ExitCode {
    // stdout's reader going away (`bb lake ls | head`) ends any command quietly and successfully,
    // as it ends Unix tools: a write that returns the error, or a `println!` that panics on it
    // (unwound, so the command's clean-up, e.g. stopping a private Postgres, still runs)
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !broken_pipe_panic(info.payload()) {
            default_hook(info)
        }
    }));
    match AssertUnwindSafe(api::cli::run(cli)).catch_unwind().await {
        Ok(Ok(code)) => code,
        Ok(Err(e)) if broken_pipe(&e) => std::process::ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
        Err(panic) if broken_pipe_panic(panic.as_ref()) => std::process::ExitCode::SUCCESS,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Whether a panic is `println!`'s on a closed stdout ("failed printing to stdout: Broken pipe").
fn broken_pipe_panic(payload: &(dyn Any + Send)) -> bool {
    let message = payload.downcast_ref::<String>().map(String::as_str).or_else(|| payload.downcast_ref::<&str>().copied()).unwrap_or("");
    message.starts_with("failed printing to stdout") && message.contains("Broken pipe")
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
