//! `webhook-portal`: serve the portal (default) or manage users.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use webhook_portal::auth::{users, Role};
use webhook_portal::config::Config;
use webhook_portal::startup::{shutdown_signal, Application};

// mimalloc rather than the system allocator: glibc's gives each thread that allocates an
// arena of its own and returns little of it, and allocating cost more of the portal's time per
// call (the delivery benchmark at concurrency 32: 0.057 → 0.049 ms). Built without transparent
// huge pages (`no_thp`): each 2 MiB page that mimalloc touched counted whole, and a burst of
// calls held 20–30 MiB more. Peak memory under the flood: 57–63 MiB before, 35–36 MiB now.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "webhook-portal",
    version,
    about = "Webhook admin portal (settings come from the environment; see README)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Start the portal (the default).
    Serve,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user to an account; the password is read from stdin or prompted for.
    Add {
        #[arg(long)]
        email: String,
        /// Account ID, e.g. VA-240-990
        #[arg(long)]
        account: String,
        /// admin or viewer
        #[arg(long, value_parser = ["admin", "viewer"])]
        role: String,
        /// Display name (defaults to the part of the e-mail before @)
        #[arg(long)]
        name: Option<String>,
    },
    /// Set a user's password; read from stdin or prompted for.
    SetPassword {
        #[arg(long)]
        email: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("webhook-portal: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&config.log_filter))
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("webhook-portal: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("webhook-portal: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let app = Application::build(config).await?;
            app.run_until(shutdown_signal()).await
        }
        Command::User { command } => {
            let database = webhook_portal::db::open(&config).await?;
            match command {
                UserCommand::Add {
                    email,
                    account,
                    role,
                    name,
                } => {
                    let role = Role::parse(&role).ok_or_else(|| anyhow::anyhow!("role must be admin or viewer"))?;
                    let account = webhook_portal::ids::AccountId::parse(&account).ok_or_else(|| {
                        anyhow::anyhow!("{account:?} is not an account id (VA-123-456 or PA-123-456)")
                    })?;
                    let password = users::read_password_from_stdin()?;
                    let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_string());
                    let mut conn = database.pool.acquire().await?;
                    let new = users::NewUser {
                        email: &email,
                        name: &name,
                        permissions: role.permissions(),
                        password: Some(&password),
                    };
                    let id = users::add_user(&mut conn, &account, &new).await?;
                    let actor = webhook_portal::audit::Actor::command_line("add");
                    webhook_portal::users::store::record_added(
                        &mut conn,
                        &account,
                        &actor,
                        &id,
                        "From the command line.",
                    )
                    .await?;
                    println!("Added {email} ({id}) to {account} as {}.", role.as_str());
                }
                UserCommand::SetPassword { email } => {
                    let password = users::read_password_from_stdin()?;
                    let (account, id, name) = users::set_password(&database.pool, &email, &password).await?;
                    let entry = webhook_portal::audit::Entry::new(
                        webhook_portal::audit::Action::UserPasswordReset,
                        webhook_portal::audit::Object::new(webhook_portal::audit::ObjectKind::User, &id, name),
                    )
                    .with_detail("Password replaced from the command line. Their sessions ended.");
                    let actor = webhook_portal::audit::Actor::command_line("set-password");
                    webhook_portal::audit::store::record(&database.pool, &account, &actor, &entry).await?;
                    println!("Password of {email} changed.");
                }
            }
            Ok(())
        }
    }
}
