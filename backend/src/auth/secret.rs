//! The JWT signing secret: configured, or generated once and kept in the data folder.

use std::{fs, io::Write, path::Path};

use anyhow::{Context, bail};
use rand::RngCore;
use secrecy::SecretString;

use crate::config::{Config, MIN_JWT_SECRET_BYTES};

const SECRET_FILE: &str = "jwt_secret";

/// `JWT_SECRET` if set (production insists, see `Config`); otherwise the secret stored in
/// `DATA_DIR/jwt_secret`, created with owner-only permissions on first start. A stored secret
/// must be as long as a configured one: an empty file (a write cut short) gets a new secret,
/// a short one is refused rather than trusted.
pub fn resolve(config: &Config) -> anyhow::Result<SecretString> {
    if let Some(secret) = &config.jwt_secret {
        return Ok(secret.clone());
    }
    let path = config.data_dir.join(SECRET_FILE);
    if path.exists() {
        let stored = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let stored = stored.trim();
        if stored.len() >= MIN_JWT_SECRET_BYTES {
            return Ok(stored.to_owned().into());
        }
        if !stored.is_empty() {
            bail!(
                "{} holds a secret of {} bytes; at least {MIN_JWT_SECRET_BYTES} are needed. Delete the file to \
                 have a new one generated (everyone is signed out), or set JWT_SECRET",
                path.display(),
                stored.len()
            );
        }
        tracing::warn!(path = %path.display(), "the stored JWT secret is empty: generating a new one");
        fs::remove_file(&path).with_context(|| format!("cannot replace {}", path.display()))?;
    }
    let secret = generate_into(&path)?;
    tracing::warn!(path = %path.display(), "JWT_SECRET is not set: generated one and stored it; set JWT_SECRET in production");
    Ok(secret)
}

fn generate_into(path: &Path) -> anyhow::Result<SecretString> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(hex.as_bytes())?;
    Ok(hex.into())
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn config_in(dir: &Path) -> Config {
        Config::from_lookup(|name| (name == "DATA_DIR").then(|| dir.to_string_lossy().into_owned())).unwrap()
    }

    #[test]
    fn an_empty_stored_secret_is_replaced_and_a_short_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(SECRET_FILE);
        fs::write(&file, "").unwrap();
        let secret = resolve(&config_in(dir.path())).unwrap();
        assert_eq!(secret.expose_secret().len(), 64);
        assert_eq!(fs::read_to_string(&file).unwrap(), secret.expose_secret());

        fs::write(&file, "tooshort").unwrap();
        let err = resolve(&config_in(dir.path())).unwrap_err().to_string();
        assert!(err.contains("8 bytes") && err.contains("32"), "{err}");
        assert_eq!(fs::read_to_string(&file).unwrap(), "tooshort", "left for the operator to look at");
    }

    #[test]
    fn generated_once_then_reused_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let config =
            Config::from_lookup(|name| (name == "DATA_DIR").then(|| dir.path().to_string_lossy().into_owned()))
                .unwrap();
        let first = resolve(&config).unwrap();
        let second = resolve(&config).unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert_eq!(first.expose_secret().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(SECRET_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
