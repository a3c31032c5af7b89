//! The `promptgate` command. All logic lives in the library.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// mimalloc: less fragmentation than glibc's allocator under many small,
/// short-lived allocations across threads (lower RSS, fewer cycles).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use promptgate::{App, Config};

#[derive(Parser)]
#[command(
    name = "promptgate",
    version,
    about = "OpenAI-compatible LLMOps gateway"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// TOML config file (keys may be overridden by PROMPTGATE__SECTION__KEY).
        #[arg(long, env = "PROMPTGATE_CONFIG")]
        config: Option<PathBuf>,
        /// Overrides `listen`.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Manage the prompt registry of a running gateway.
    Prompts {
        #[command(flatten)]
        gateway: Remote,
        #[command(subcommand)]
        command: promptgate::cli::prompts::PromptsCommand,
    },
    /// Cost reports of a running gateway.
    Costs {
        #[command(flatten)]
        gateway: Remote,
        #[command(subcommand)]
        command: promptgate::cli::costs::CostsCommand,
    },
    /// Teams of a running gateway (admin key).
    Teams {
        #[command(flatten)]
        gateway: Remote,
        #[command(subcommand)]
        command: promptgate::cli::keys::TeamsCommand,
    },
    /// API keys of a running gateway: create, list, revoke, rotate (admin key).
    Keys {
        #[command(flatten)]
        gateway: Remote,
        #[command(subcommand)]
        command: promptgate::cli::keys::KeysCommand,
    },
    /// Evaluate a built-in scorer on a labelled data set.
    Eval {
        #[command(subcommand)]
        what: EvalCommand,
    },
    /// Serve the built-in deterministic mock upstream on its own port (tests, demos, benchmarks).
    MockUpstream {
        #[arg(long, default_value = "127.0.0.1:18081")]
        listen: SocketAddr,
    },
}

/// Where the CLI finds a running gateway.
#[derive(clap::Args)]
struct Remote {
    /// Gateway URL.
    #[arg(
        long,
        env = "PROMPTGATE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// Admin key (for `costs`, a team key also works and sees its own team only).
    #[arg(
        long,
        alias = "admin-key",
        env = "PROMPTGATE_ADMIN_KEY",
        default_value = "",
        hide_env_values = true,
        global = true
    )]
    key: String,
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Grounding (hallucination) scorer, out of sample: cross-validation by
    /// source and cross-dataset, beside the one-signal coverage baseline
    /// (balanced accuracy, precision/recall/F1 for the hallucinated class,
    /// AUROC), reliability and operating-point tables, scoring time.
    Grounding(promptgate::cli::eval::GroundingArgs),
}

fn main() -> std::process::ExitCode {
    no_transparent_huge_pages();
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async_main())
}

/// mimalloc asks the kernel for transparent huge pages on its arenas, so
/// every 2 MiB region it touches is resident in full: an idle gateway held
/// 48 MiB instead of 26 MiB, and RSS under load grew in 2 MiB steps. A proxy's
/// heap is small and short-lived, so the fewer TLB misses are not worth it.
/// Set before the runtime starts, so only what was touched before `main`
/// (a few KiB) can be in huge pages.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("warning: could not turn transparent huge pages off: {e}");
    }
}

/// One scheduler thread per core the process may run on. Confined to a
/// single core (a container limit, `taskset`), the single-threaded scheduler
/// does the same work without the cross-thread bookkeeping of the
/// work-stealing one, which shows up on every task switch.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut builder = if cores == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder.enable_all().build()
}

async fn async_main() -> std::process::ExitCode {
    promptgate::telemetry::init_tracing();
    match run(Cli::parse().command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve { config, listen } => {
            let mut config = Config::load(config.as_deref())?;
            if let Some(listen) = listen {
                config.listen = listen;
            }
            let app = App::build(config).await?;
            tracing::info!(address = %app.local_addr(), "promptgate listening");
            app.run(shutdown_signal()).await
        }
        Command::Prompts { gateway, command } => {
            promptgate::cli::prompts::run(command, &gateway.url, &gateway.key).await
        }
        Command::Teams { gateway, command } => {
            promptgate::cli::keys::teams(command, &gateway.url, &gateway.key).await
        }
        Command::Keys { gateway, command } => {
            promptgate::cli::keys::keys(command, &gateway.url, &gateway.key).await
        }
        Command::Costs { gateway, command } => {
            promptgate::cli::costs::run(command, &gateway.url, &gateway.key).await
        }
        Command::Eval {
            what: EvalCommand::Grounding(args),
        } => {
            let report = promptgate::cli::eval::grounding(args).map_err(anyhow::Error::msg)?;
            println!("{report}");
            Ok(())
        }
        Command::MockUpstream { listen } => {
            let listener = tokio::net::TcpListener::bind(listen).await?;
            tracing::info!(address = %listener.local_addr()?, "mock upstream listening");
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, promptgate::providers::mock::server_router())
                .with_graceful_shutdown(shutdown_signal())
                .await?;
            Ok(())
        }
    }
}

/// SIGTERM (orchestrators) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
