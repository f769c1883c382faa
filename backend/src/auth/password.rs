//! Argon2id password hashing, always off the async executor, on a small fixed pool of
//! threads. Each hash needs 19 MiB; on tokio's elastic blocking pool every new thread kept its
//! own allocator arena of it (RSS reached 260 MB after 100 sequential sign-ins). A fixed pool
//! bounds that memory and keeps a burst of sign-ins from taking every core.

use std::sync::LazyLock;

use anyhow::Context;
use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use secrecy::{ExposeSecret, SecretString};

/// Hashed with the same parameters as real accounts, so that signing in as an unknown user
/// costs the same time as a wrong password and does not reveal which usernames exist.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_blocking("not-a-real-password-0").expect("argon2 with default parameters")
});

static WORKERS: LazyLock<rayon::ThreadPool> = LazyLock::new(|| {
    rayon::ThreadPoolBuilder::new()
        .num_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .thread_name(|i| format!("argon2-{i}"))
        .build()
        .expect("can start the password hashing threads")
});

/// Runs `work` on the hashing pool and awaits its result.
async fn on_workers<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let (done, result) = tokio::sync::oneshot::channel();
    WORKERS.spawn(move || {
        let _ = done.send(work());
    });
    result.await.context("password hashing task failed")
}

/// Hashes a new password (argon2id, default parameters, random salt).
pub async fn hash(password: &SecretString) -> anyhow::Result<String> {
    let password = password.clone();
    on_workers(move || hash_blocking(password.expose_secret())).await?
}

/// Checks a password against a stored hash, or against a dummy hash when there is no account,
/// taking the same time either way.
pub async fn verify(candidate: SecretString, stored_hash: Option<String>) -> anyhow::Result<bool> {
    on_workers(move || {
        let known = stored_hash.is_some();
        let hash = stored_hash.unwrap_or_else(|| DUMMY_HASH.clone());
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| anyhow::anyhow!("stored hash is malformed: {e}"))?;
        let matches = Argon2::default()
            .verify_password(candidate.expose_secret().as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await?
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_only_the_right_password() {
        let stored = hash(&"correct horse 1".to_owned().into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(
            verify("correct horse 1".to_owned().into(), Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify("wrong horse 1".to_owned().into(), Some(stored))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn unknown_user_never_matches_even_the_dummy_password() {
        assert!(
            !verify("not-a-real-password-0".to_owned().into(), None)
                .await
                .unwrap()
        );
    }
}
