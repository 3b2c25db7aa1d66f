//! Session tokens: HS256 JWTs with `sub`, `iat`, `exp` and `jti`.

use std::time::Duration;

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Clock skew we tolerate between issuing and checking a token.
const LEEWAY_SECONDS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid token")]
pub struct InvalidToken;

impl TokenKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        // `Validation::new` pins the algorithm: a token claiming any other `alg`,
        // `none` included, is rejected before its signature is looked at.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues a token for a user.
    ///
    /// # Errors
    /// Only if signing fails, which HS256 with an in-memory key does not.
    pub fn issue(&self, user_id: &str) -> Result<(String, Claims), jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_owned(),
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
            jti: Uuid::new_v4().to_string(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, claims))
    }

    /// Verifies signature, algorithm and expiry.
    ///
    /// # Errors
    /// `InvalidToken` for anything but a valid, unexpired token of ours.
    pub fn verify(&self, token: &str) -> Result<Claims, InvalidToken> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| InvalidToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keys() -> TokenKeys {
        TokenKeys::new(SECRET, Duration::from_secs(3600))
    }

    #[test]
    fn an_issued_token_verifies() {
        let (token, claims) = keys().issue("user-1").unwrap();
        let verified = keys().verify(&token).unwrap();
        assert_eq!(verified.sub, "user-1");
        assert_eq!(verified.jti, claims.jti);
        assert_eq!(verified.exp - verified.iat, 3600);
    }

    #[test]
    fn a_token_signed_with_another_secret_is_rejected() {
        let other = TokenKeys::new(
            b"another-secret-another-secret-xx",
            Duration::from_secs(3600),
        );
        let (token, _) = other.issue("user-1").unwrap();
        assert!(keys().verify(&token).is_err());
    }

    #[test]
    fn an_alg_none_token_is_rejected() {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let now = chrono::Utc::now().timestamp();
        let header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let payload = b64.encode(format!(
            r#"{{"sub":"user-1","iat":{now},"exp":{},"jti":"x"}}"#,
            now + 3600
        ));
        assert!(keys().verify(&format!("{header}.{payload}.")).is_err());
    }

    #[test]
    fn an_expired_token_is_rejected_beyond_the_leeway() {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: "user-1".into(),
            iat: now - 100,
            exp: now - 10,
            jti: "x".into(),
        };
        let token = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert!(keys().verify(&token).is_err());
    }
}
