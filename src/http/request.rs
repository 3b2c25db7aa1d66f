//! What a handler gets: the request's parts, its route parameters, the client
//! address, and helpers that read the body and the query safely.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::state::AppState;

/// Largest request body we read; anything larger is refused without reading it.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct RequestCtx {
    pub state: Arc<AppState>,
    pub parts: http::request::Parts,
    body: Option<Incoming>,
    params: Vec<(String, String)>,
    pub client_ip: IpAddr,
    pub request_id: String,
}

impl RequestCtx {
    pub fn new(
        state: Arc<AppState>,
        parts: http::request::Parts,
        body: Incoming,
        params: Vec<(String, String)>,
        client_ip: IpAddr,
        request_id: String,
    ) -> Self {
        Self {
            state,
            parts,
            body: Some(body),
            params,
            client_ip,
            request_id,
        }
    }

    /// A percent-decoded route parameter such as `{id}`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The query string's parameters, percent-decoded; a repeated name keeps its last value.
    pub fn query(&self) -> HashMap<String, String> {
        self.parts.uri.query().map(parse_query).unwrap_or_default()
    }

    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The value of one cookie, if the request carries it.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.trim_matches('"'))
    }

    /// Reads the body as a JSON object.
    ///
    /// # Errors
    /// 415 without a JSON content type, 413 over 64 KiB (refused from
    /// `Content-Length` when present, else stopped while streaming), 408 when the
    /// body does not arrive in time, 400 when the body is not a JSON object.
    pub async fn json_object(&mut self) -> Result<Map<String, Value>, ApiError> {
        if !has_json_content_type(&self.parts.headers) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let declared_length = self
            .header(header::CONTENT_LENGTH)
            .and_then(|v| v.parse::<u64>().ok());
        if declared_length.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
            return Err(ApiError::PayloadTooLarge);
        }
        let bytes = self.read_limited_body().await?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(ApiError::InvalidJson),
        }
    }

    async fn read_limited_body(&mut self) -> Result<Bytes, ApiError> {
        let Some(body) = self.body.take() else {
            return Err(ApiError::InvalidJson);
        };
        let timeout = self.state.config.body_read_timeout;
        let read = tokio::time::timeout(timeout, Limited::new(body, MAX_BODY_BYTES).collect());
        match read.await.map_err(|_| ApiError::RequestTimeout)? {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(err) if err.is::<http_body_util::LengthLimitError>() => {
                Err(ApiError::PayloadTooLarge)
            }
            // The client went away or sent a broken chunked body.
            Err(_) => Err(ApiError::InvalidJson),
        }
    }
}

fn has_json_content_type(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"))
}

/// Parses `a=1&b=x%20y` into pairs, decoding `+` and percent escapes.
pub fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key, true), percent_decode(value, true))
        })
        .collect()
}

/// Decodes `%XX` escapes (and `+` as space in query strings); invalid escapes stay as they are.
pub fn percent_decode(input: &str, plus_is_space: bool) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_decoded() {
        let query = parse_query("from=2026-11-20T10%3A00%3A00%2B01%3A00&tz=Europe%2FBerlin&x=a+b");
        assert_eq!(query["from"], "2026-11-20T10:00:00+01:00");
        assert_eq!(query["tz"], "Europe/Berlin");
        assert_eq!(query["x"], "a b");
    }

    #[test]
    fn broken_escapes_are_kept_verbatim() {
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("%zz%4", false), "%zz%4");
    }
}
