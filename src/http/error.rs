/// What the plumbing itself refuses, before any handler logic runs. The API
/// layer decides the status and code each one is answered with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("no route for this path")]
    NotFound,
    #[error("method not allowed; allowed: {allow}")]
    MethodNotAllowed { allow: String },
    #[error("the body is not a JSON object")]
    InvalidJson,
    #[error("the body is larger than the limit")]
    PayloadTooLarge,
    #[error("the body is not declared as JSON")]
    UnsupportedMediaType,
    #[error("the body did not arrive in time")]
    RequestTimeout,
    #[error("a state-changing request from a foreign origin")]
    CsrfRejected,
}
