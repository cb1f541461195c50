//! The `forewarn` binary: installs the TLS provider, parses flags, sets up logging and hands
//! over to [`forewarn::cli::run`]. It alone prints fatal errors and picks the exit code.

use clap::Parser;
use forewarn::cli::{Cli, LogFormat};
use std::process::ExitCode;

fn main() -> ExitCode {
    // Exactly one rustls crypto provider (ring) is compiled in; make it the process default.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("FOREWARN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    match forewarn::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("forewarn: {e:#}");
            ExitCode::from(forewarn::cli::EXIT_USAGE)
        }
    }
}
