//! The one error type every handler returns, and its JSON answer: the only place
//! that maps the errors of the layers below to statuses and codes.

use std::collections::BTreeMap;

use http::header::{self, HeaderValue};
use http::StatusCode;

use crate::auth::AuthError;
use crate::db::StoreError;
use crate::domain::{InvalidEntryId, ValidationError};
use crate::http::response::json;
use crate::http::{HttpError, Response};

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error answered to the client. `Display` is the text safe to show a user;
/// an `Internal` error's cause is logged once and never answered.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Request body is not a valid JSON object")]
    InvalidJson,
    #[error("Authentication required")]
    Unauthenticated,
    #[error("Invalid email or password")]
    InvalidCredentials,
    #[error("Cross-site request rejected")]
    CsrfRejected,
    #[error("Not found")]
    NotFound,
    #[error("Method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("An account with this email already exists")]
    EmailTaken,
    #[error("The request body did not arrive in time")]
    RequestTimeout,
    #[error("Request body is larger than 64 KiB")]
    PayloadTooLarge,
    #[error("Request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("Some fields are invalid")]
    Validation(BTreeMap<&'static str, String>),
    #[error("Too many attempts, try again later")]
    RateLimited { retry_after_secs: u64 },
    #[error("Service unavailable")]
    ServiceUnavailable(#[source] BoxError),
    #[error("The server is busy, try again shortly")]
    Busy { retry_after_secs: u64 },
    #[error("The request URI is too long")]
    UriTooLong,
    #[error("The request headers are too many or too large")]
    HeadersTooLarge,
    #[error("The request could not be read as HTTP")]
    BadRequest,
    #[error("Internal server error")]
    Internal(#[source] BoxError),
}

impl ApiError {
    pub fn internal(err: impl Into<BoxError>) -> Self {
        Self::Internal(err.into())
    }

    /// A validation error about a single field.
    pub fn field(name: &'static str, message: impl Into<String>) -> Self {
        Self::Validation(BTreeMap::from([(name, message.into())]))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidJson => StatusCode::BAD_REQUEST,
            Self::Unauthenticated | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::CsrfRejected => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::EmailTaken => StatusCode::CONFLICT,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::ServiceUnavailable(_) | Self::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson => "INVALID_JSON",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::CsrfRejected => "CSRF_REJECTED",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::RequestTimeout => "REQUEST_TIMEOUT",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::Validation(_) => "VALIDATION_ERROR",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::ServiceUnavailable(_) | Self::Busy { .. } => "SERVICE_UNAVAILABLE",
            Self::UriTooLong => "URI_TOO_LONG",
            Self::HeadersTooLarge => "HEADERS_TOO_LARGE",
            Self::BadRequest => "BAD_REQUEST",
            Self::Internal(_) => "INTERNAL_ERROR",
        }
    }

    /// The JSON body: `{"error", "code"}` plus `fields` for validation errors.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "error": self.to_string(), "code": self.code() });
        if let Self::Validation(fields) = self {
            body["fields"] = serde_json::json!(fields);
        }
        body
    }

    /// The full cause chain, for the server log only.
    pub fn cause_chain(&self) -> Option<String> {
        let source = match self {
            Self::Internal(e) | Self::ServiceUnavailable(e) => e.as_ref(),
            _ => return None,
        };
        let mut chain = source.to_string();
        let mut next = source.source();
        while let Some(cause) = next {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
            next = cause.source();
        }
        Some(chain)
    }
}

impl ApiError {
    /// The contract's JSON answer, with `Allow` or `Retry-After` where they belong.
    pub fn to_response(&self) -> Response {
        let mut response = json(self.status(), &self.body());
        let headers = response.headers_mut();
        match self {
            Self::MethodNotAllowed { allow } => {
                if let Ok(value) = HeaderValue::from_str(allow) {
                    headers.insert(header::ALLOW, value);
                }
            }
            Self::RateLimited { retry_after_secs } | Self::Busy { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        response
    }
}

impl From<HttpError> for ApiError {
    fn from(err: HttpError) -> Self {
        match err {
            HttpError::NotFound => Self::NotFound,
            HttpError::MethodNotAllowed { allow } => Self::MethodNotAllowed { allow },
            HttpError::InvalidJson => Self::InvalidJson,
            HttpError::PayloadTooLarge => Self::PayloadTooLarge,
            HttpError::UnsupportedMediaType => Self::UnsupportedMediaType,
            HttpError::RequestTimeout => Self::RequestTimeout,
            HttpError::CsrfRejected => Self::CsrfRejected,
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(err: ValidationError) -> Self {
        Self::Validation(err.0)
    }
}

/// A malformed id is answered like someone else's: not found, never a 422.
impl From<InvalidEntryId> for ApiError {
    fn from(_: InvalidEntryId) -> Self {
        Self::NotFound
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::EmailTaken => Self::EmailTaken,
            StoreError::Database(err) => Self::Internal(Box::new(err)),
            err @ (StoreError::Integrity { .. } | StoreError::Sealing(_)) => {
                Self::Internal(Box::new(err))
            }
            StoreError::NoKey => Self::Unauthenticated,
            StoreError::Busy => Self::Busy {
                retry_after_secs: 1,
            },
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Unauthenticated => Self::Unauthenticated,
            AuthError::InvalidCredentials => Self::InvalidCredentials,
            AuthError::RateLimited { retry_after_secs } => Self::RateLimited { retry_after_secs },
            AuthError::Busy { retry_after_secs } => Self::Busy { retry_after_secs },
            AuthError::Invalid(err) => err.into(),
            AuthError::Store(err) => err.into(),
            AuthError::Keys(err) => Self::internal(err),
            AuthError::Internal(err) => Self::Internal(err),
        }
    }
}
