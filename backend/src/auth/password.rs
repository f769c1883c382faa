//! Argon2id password hashing, off the async executor, on a small fixed pool of threads that
//! each reuse one work buffer.
//!
//! Parameters: m = 7 MiB, t = 5, p = 1 — OWASP's equal-strength alternative to 19 MiB/t = 2,
//! at a third of the memory. Hashes keep their parameters (PHC strings), so raising them later
//! only affects new passwords. Reusing the buffer keeps memory flat: with a fresh allocation per
//! hash, the allocator kept hundreds of MB after a few hundred sign-ins.

use std::{cell::RefCell, sync::LazyLock};

use anyhow::{Context, anyhow};
use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::{Output, ParamsString, PasswordHash, SaltString, rand_core::OsRng},
};
use secrecy::{ExposeSecret, SecretString};

const M_COST_KIB: u32 = 7 * 1024;
const T_COST: u32 = 5;
const P_COST: u32 = 1;
const OUTPUT_LEN: usize = 32;

/// Hashed with the same parameters as real accounts, so that signing in as an unknown user
/// costs the same time as a wrong password and does not reveal which usernames exist.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("not-a-real-password-0").expect("argon2 with fixed parameters"));

static WORKERS: LazyLock<rayon::ThreadPool> = LazyLock::new(|| {
    rayon::ThreadPoolBuilder::new()
        .num_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .thread_name(|i| format!("argon2-{i}"))
        .build()
        .expect("can start the password hashing threads")
});

thread_local! {
    /// This worker's argon2 memory, allocated once.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `work` on the hashing pool and awaits its result.
async fn on_workers<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    let (done, result) = tokio::sync::oneshot::channel();
    WORKERS.spawn(move || {
        let _ = done.send(work());
    });
    result.await.context("password hashing task failed")
}

/// Hashes a new password (argon2id, random salt) into a PHC string.
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
        let matches = verify_blocking(candidate.expose_secret(), &hash)?;
        Ok(known && matches)
    })
    .await?
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, Some(OUTPUT_LEN)).map_err(|e| anyhow!("{e}"))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(|e| anyhow!("{e}"))?;
    let mut out = [0u8; OUTPUT_LEN];
    raw_hash(&argon, password, salt_bytes, &mut out)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).map_err(|e| anyhow!("{e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| anyhow!("{e}"))?),
    };
    Ok(phc.to_string())
}

fn verify_blocking(candidate: &str, stored: &str) -> anyhow::Result<bool> {
    let malformed = |e: argon2::password_hash::Error| anyhow!("stored password hash is malformed: {e}");
    let parsed = PasswordHash::new(stored).map_err(malformed)?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(malformed)?;
    let version = parsed.version.map(Version::try_from).transpose().map_err(|e| anyhow!("{e}"))?.unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(malformed)?;
    let expected = parsed.hash.context("stored password hash has no output")?;
    let salt = parsed.salt.context("stored password hash has no salt")?;
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(malformed)?;
    let mut out = vec![0u8; expected.len()];
    raw_hash(&Argon2::new(algorithm, version, params), candidate, salt_bytes, &mut out)?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out).map_err(malformed)? == expected)
}

/// Argon2 into `out`, with this thread's reusable memory.
fn raw_hash(argon: &Argon2, password: &str, salt: &[u8], out: &mut [u8]) -> anyhow::Result<()> {
    BLOCKS
        .with_borrow_mut(|blocks| {
            blocks.resize(argon.params().block_count(), Block::default());
            argon.hash_password_into_with_memory(password.as_bytes(), salt, out, blocks.as_mut_slice())
        })
        .map_err(|e| anyhow!("argon2 hashing failed: {e}"))
}

#[cfg(test)]
mod tests {
    use argon2::PasswordVerifier;

    use super::*;

    #[tokio::test]
    async fn verifies_only_the_right_password() {
        let stored = hash(&"correct horse 1".to_owned().into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{stored}");
        assert!(verify("correct horse 1".to_owned().into(), Some(stored.clone())).await.unwrap());
        assert!(!verify("wrong horse 1".to_owned().into(), Some(stored)).await.unwrap());
    }

    #[test]
    fn hashes_are_standard_phc_strings() {
        // The argon2 crate's own verifier accepts ours, and we accept its (other parameters).
        let ours = hash_blocking("pass-word-9").unwrap();
        assert!(Argon2::default().verify_password(b"pass-word-9", &PasswordHash::new(&ours).unwrap()).is_ok());
        let theirs = argon2::PasswordHasher::hash_password(
            &Argon2::default(),
            b"pass-word-9",
            &SaltString::generate(&mut OsRng),
        )
        .unwrap()
        .to_string();
        assert!(verify_blocking("pass-word-9", &theirs).unwrap());
        assert!(!verify_blocking("pass-word-8", &theirs).unwrap());
    }

    #[tokio::test]
    async fn unknown_user_never_matches_even_the_dummy_password() {
        assert!(!verify("not-a-real-password-0".to_owned().into(), None).await.unwrap());
    }
}
