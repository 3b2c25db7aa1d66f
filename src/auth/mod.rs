//! Authentication: passwords, tokens, sessions, CSRF and CORS, rate limits.

pub mod cors;
pub mod csrf;
pub mod password;
pub mod rate_limit;
pub mod secret;
pub mod session;
pub mod token;
