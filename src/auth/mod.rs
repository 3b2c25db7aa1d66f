//! Authentication: accounts, passwords, tokens, sessions and rate limits.

pub mod accounts;
mod error;
pub mod in_flight;
pub mod master_key;
pub mod password;
pub mod rate_limit;
pub mod secret;
pub mod session;
pub mod token;

pub use accounts::Accounts;
pub use error::AuthError;
pub use session::{AuthUser, Sessions};
