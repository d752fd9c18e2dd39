//! The portal binary as a child process on a test's database: for crash tests (SIGKILL),
//! several processes on one database, and settings that only the process environment holds.

use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_webhook-portal");

/// A portal process; killed when dropped.
pub struct Portal(pub Child);

impl Portal {
    pub fn start(database_url: &str, settings: &[(&str, &str)]) -> Portal {
        let log_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("test-logs");
        std::fs::create_dir_all(&log_dir).unwrap();
        let log = std::fs::File::create(log_dir.join(format!("portal-{}.log", uuid::Uuid::new_v4().simple()))).unwrap();
        let child = Command::new(BIN)
            .env("DATABASE_URL", database_url)
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "webhook_portal=info")
            // The tests' own proxy settings must not leak into the portal under test.
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .envs(settings.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start portal process");
        Portal(child)
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill_9(mut self) {
        self.0.kill().expect("kill -9");
        self.0.wait().unwrap();
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
