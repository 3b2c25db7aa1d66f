//! HTTP plumbing between hyper and the handlers: routing, request reading,
//! response building, server-sent events and the per-request pipeline.

pub mod request;
pub mod response;
pub mod router;
pub mod service;
pub mod sse;
pub mod stream;

pub use request::RequestCtx;
pub use response::{Body, Response};
