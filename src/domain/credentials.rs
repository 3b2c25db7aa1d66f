use serde_json::{Map, Value};

use super::{required_str, trim_text, FieldErrors, ValidationError};

const MAX_EMAIL_CHARS: usize = 254;
const MIN_PASSWORD_CHARS: usize = 8;
/// bcrypt reads only this many bytes; longer passwords are refused, never cut.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// A trimmed, lower-cased address that looks deliverable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// # Errors
    /// A message for the `email` field.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > MAX_EMAIL_CHARS {
            return Err(format!("must be at most {MAX_EMAIL_CHARS} characters"));
        }
        let email = lookup_email(raw);
        if email.is_empty() {
            return Err("is required".into());
        }
        let valid = email
            .split_once('@')
            .is_some_and(|(local, domain)| is_local_part(local) && is_domain(domain));
        if valid {
            Ok(Self(email))
        } else {
            Err("must be an email address".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The form an email is stored and looked up in (trimmed, lower-cased), for text
/// that need not be a valid address: a login with a malformed email is simply
/// an unknown account.
pub fn lookup_email(raw: &str) -> String {
    trim_text(raw).to_ascii_lowercase()
}

/// The characters RFC 5322 allows unquoted, and dots: 1 to 64 of them.
fn is_local_part(local: &str) -> bool {
    (1..=64).contains(&local.len())
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b))
}

/// Two or more dot-separated labels of letters, digits and inner hyphens.
fn is_domain(domain: &str) -> bool {
    domain.split('.').count() >= 2 && is_hostname(domain)
}

/// Dot-separated labels of letters, digits and inner hyphens (`app.example.com`, `localhost`).
pub fn is_hostname(host: &str) -> bool {
    host.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    })
}

/// A password bcrypt can hash without truncation.
pub struct Password(String);

impl Password {
    /// # Errors
    /// A message for the `password` field.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() < MIN_PASSWORD_CHARS {
            return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(format!(
                "must be at most {MAX_PASSWORD_BYTES} bytes of UTF-8"
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Parses a registration body: both fields, each error named.
///
/// # Errors
/// 422 naming each bad field.
pub fn parse_registration(body: &Map<String, Value>) -> Result<(Email, Password), ValidationError> {
    let mut errors = FieldErrors::default();
    let email = errors.take("email", required_str(body, "email").and_then(Email::parse));
    let password = errors.take(
        "password",
        required_str(body, "password").and_then(Password::parse),
    );
    errors.finish(email.zip(password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_is_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
    }

    #[test]
    fn strings_that_are_not_addresses_are_rejected() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@@example.com",
            "ada@.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_email_of_255_characters_is_rejected() {
        let long = format!("{}@{}.com", "a".repeat(60), "b".repeat(190));
        assert!(long.len() > 254);
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn a_seven_character_password_is_rejected_and_eight_accepted() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
    }

    #[test]
    fn a_password_of_73_bytes_is_rejected_and_72_multibyte_bytes_accepted() {
        assert!(Password::parse(&"a".repeat(73)).is_err());
        let multibyte = "é".repeat(36);
        assert_eq!(multibyte.len(), 72);
        assert!(Password::parse(&multibyte).is_ok());
        assert!(Password::parse(&format!("{multibyte}a")).is_err());
    }
}
