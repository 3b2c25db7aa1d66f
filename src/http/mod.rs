//! HTTP plumbing with no knowledge of Serene's services: routing, reading
//! requests, building responses (JSON, streamed bodies, server-sent events),
//! CORS and cross-site request checks, and the headers every answer carries.

pub mod cors;
pub mod csrf;
mod error;
pub mod protocol_errors;
pub mod request;
pub mod response;
pub mod router;
pub mod sse;
mod strict_json;

pub use error::HttpError;
pub use request::Request;
pub use response::{Body, Response};

/// An error a streamed body may end with; it aborts the transfer.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
