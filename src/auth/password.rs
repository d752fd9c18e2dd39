//! Password hashing with argon2id at the OWASP-recommended parameters
//! (m = 19 MiB, t = 2, p = 1: `Argon2::default()`), run off the async threads.

use anyhow::Context;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

pub use crate::credentials::{check_strength, MAX_LENGTH, MIN_LENGTH};

pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .context("hashing task")?
}

/// A hash of a random password, verified against when the e-mail is unknown so that the
/// answer takes as long as for a real account.
static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Verifies `password` against `stored` (or the dummy hash when there is no user).
pub async fn verify(password: String, stored: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let known_user = stored.is_some();
        let stored = match stored {
            Some(s) => s,
            None => DUMMY_HASH
                .get_or_init(|| hash_blocking(&crate::ids::random_token(24)).unwrap_or_default())
                .clone(),
        };
        let parsed = PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
        let ok = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(ok && known_user)
    })
    .await
    .context("verifying task")?
}

/// A strong random password for seeded users (printed once on first start).
pub fn generate() -> String {
    crate::ids::random_token(18)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery".into(), Some(h.clone())).await.unwrap());
        assert!(!verify("wrong horse battery".into(), Some(h)).await.unwrap());
        assert!(!verify("anything at all".into(), None).await.unwrap());
    }

    #[test]
    fn strength_rule() {
        assert!(check_strength("short").is_err());
        assert!(check_strength("long enough pass").is_ok());
        assert!(check_strength(&"x".repeat(300)).is_err());
    }
}
