//! The session cookie: httpOnly, `SameSite=Lax`, `Secure` when configured.

use http::HeaderValue;

pub const COOKIE_NAME: &str = "serene_token";

/// `Set-Cookie` for a new session.
pub fn session_cookie(token: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    cookie_header(token, max_age_secs, secure)
}

/// `Set-Cookie` that makes the browser forget the session.
pub fn clearing_cookie(secure: bool) -> HeaderValue {
    cookie_header("", 0, secure)
}

fn cookie_header(value: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{COOKIE_NAME}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age_secs}{secure}"
    );
    // A JWT is base64url and dots, always a valid header value.
    HeaderValue::from_str(&text)
        .unwrap_or_else(|_| HeaderValue::from_static("serene_token=; Max-Age=0"))
}
