//! What a handler gets from the plumbing: the request's parts, its route
//! parameters, the client address, and a body reader with limits.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http::header;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{Map, Value};

use super::strict_json::StrictValue;
use super::HttpError;

/// Largest request body we read; anything larger is refused without reading it.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct Request {
    pub parts: http::request::Parts,
    body: Option<Incoming>,
    params: Vec<(String, String)>,
    pub client_ip: IpAddr,
    body_timeout: Duration,
}

impl Request {
    pub fn new(
        parts: http::request::Parts,
        body: Incoming,
        params: Vec<(String, String)>,
        client_ip: IpAddr,
        body_timeout: Duration,
    ) -> Self {
        Self {
            parts,
            body: Some(body),
            params,
            client_ip,
            body_timeout,
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
        self.query_pairs().into_iter().collect()
    }

    /// Every `(name, value)` of the query string in order, repeated names included.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.parts
            .uri
            .query()
            .map(parse_query_pairs)
            .unwrap_or_default()
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
    /// `UnsupportedMediaType` without a JSON content type, `PayloadTooLarge` over
    /// 64 KiB (refused from `Content-Length` when present, else stopped while
    /// streaming), `RequestTimeout` when the body does not arrive in time,
    /// `InvalidJson` when the body is not a JSON object or an object in it repeats a key.
    pub async fn json_object(&mut self) -> Result<Map<String, Value>, HttpError> {
        if !has_json_content_type(&self.parts.headers) {
            return Err(HttpError::UnsupportedMediaType);
        }
        let declared_length = self
            .header(header::CONTENT_LENGTH)
            .and_then(|v| v.parse::<u64>().ok());
        if declared_length.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
            return Err(HttpError::PayloadTooLarge);
        }
        let bytes = self.read_limited_body().await?;
        match serde_json::from_slice::<StrictValue>(&bytes) {
            Ok(StrictValue(Value::Object(map))) => Ok(map),
            _ => Err(HttpError::InvalidJson),
        }
    }

    async fn read_limited_body(&mut self) -> Result<Bytes, HttpError> {
        let Some(body) = self.body.take() else {
            return Err(HttpError::InvalidJson);
        };
        let read = tokio::time::timeout(
            self.body_timeout,
            Limited::new(body, MAX_BODY_BYTES).collect(),
        );
        match read.await.map_err(|_| HttpError::RequestTimeout)? {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(err) if err.is::<http_body_util::LengthLimitError>() => {
                Err(HttpError::PayloadTooLarge)
            }
            // The client went away or sent a broken chunked body.
            Err(_) => Err(HttpError::InvalidJson),
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

/// Parses `a=1&b=x%20y` into pairs in order, decoding `+` and percent escapes.
pub fn parse_query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// Decodes the `%XX` escapes of a path segment; invalid escapes stay as they are.
pub fn decode_path_segment(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// The socket peer, or with `trust_proxy` the address our proxy saw: the last
/// entry of `X-Forwarded-For` (earlier entries are the client's own claims).
pub fn client_ip(trust_proxy: bool, headers: &http::HeaderMap, peer: SocketAddr) -> IpAddr {
    if !trust_proxy {
        return peer.ip();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
        .next_back()
        .unwrap_or_else(|| peer.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_decoded() {
        let query: HashMap<String, String> =
            parse_query_pairs("from=2026-11-20T10%3A00%3A00%2B01%3A00&tz=Europe%2FBerlin&x=a+b")
                .into_iter()
                .collect();
        assert_eq!(query["from"], "2026-11-20T10:00:00+01:00");
        assert_eq!(query["tz"], "Europe/Berlin");
        assert_eq!(query["x"], "a b");
    }

    #[test]
    fn broken_escapes_are_kept_verbatim() {
        assert_eq!(decode_path_segment("100%"), "100%");
        assert_eq!(decode_path_segment("%zz%4"), "%zz%4");
        assert_eq!(decode_path_segment("a+b%20c"), "a+b c");
    }
}
