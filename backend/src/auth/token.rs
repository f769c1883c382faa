//! Session tokens: HS256 JWTs carrying `sub`, `iat`, `exp` and a unique `jti` for revocation.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::{
    clock::{Millis, now_millis},
    domain::UserId,
};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id, as a string per RFC 7519.
    pub sub: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// Unique token id, the key of revocation.
    pub jti: String,
}

impl Claims {
    pub fn user_id(&self) -> Option<UserId> {
        self.sub.parse().ok().map(UserId::new)
    }

    pub fn expires_at_millis(&self) -> Millis {
        self.exp.saturating_mul(1000)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the session has expired")]
    Expired,
    #[error("the session token is not valid")]
    Invalid,
}

/// Signs and checks session tokens with one secret.
pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl TokenIssuer {
    pub fn new(secret: &SecretString, ttl: Duration) -> Self {
        let key = secret.expose_secret().as_bytes();
        // Only HS256: tokens claiming `none` or any other algorithm are refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self { encoding: EncodingKey::from_secret(key), decoding: DecodingKey::from_secret(key), validation, ttl }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A fresh token for `user_id`, valid for the configured lifetime.
    pub fn issue(&self, user_id: UserId) -> anyhow::Result<(String, Claims)> {
        let iat = now_millis() / 1000;
        let claims = Claims {
            sub: user_id.to_string(),
            iat,
            exp: iat + self.ttl.as_secs() as i64,
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, claims))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|data| data.claims).map_err(|e| {
            match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(secret: &str) -> TokenIssuer {
        TokenIssuer::new(&secret.to_owned().into(), Duration::from_secs(3600))
    }

    #[test]
    fn round_trip() {
        let issuer = issuer("a-test-secret-of-thirty-two-bytes!");
        let (token, claims) = issuer.issue(UserId::new(42)).unwrap();
        let checked = issuer.verify(&token).unwrap();
        assert_eq!(checked, claims);
        assert_eq!(checked.user_id(), Some(UserId::new(42)));
        assert_eq!(checked.exp - checked.iat, 3600);
    }

    #[test]
    fn other_key_is_refused() {
        let (token, _) = issuer("one-secret-one-secret-one-secret").issue(UserId::new(1)).unwrap();
        assert_eq!(issuer("two-secret-two-secret-two-secret").verify(&token), Err(TokenError::Invalid));
    }

    #[test]
    fn alg_none_is_refused() {
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        let encode = |json: &[u8]| URL_SAFE_NO_PAD.encode(json);
        let header = encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = encode(br#"{"sub":"1","iat":1,"exp":99999999999,"jti":"x"}"#);
        let token = format!("{header}.{body}.");
        assert_eq!(issuer("s").verify(&token), Err(TokenError::Invalid));
    }

    #[test]
    fn expired_is_reported_as_such() {
        let issuer = issuer("s");
        let now = now_millis() / 1000;
        let claims = Claims { sub: "1".into(), iat: now - 7200, exp: now - 3600, jti: "j".into() };
        let token = jsonwebtoken::encode(&Header::default(), &claims, &issuer.encoding).unwrap();
        assert_eq!(issuer.verify(&token), Err(TokenError::Expired));
    }
}
