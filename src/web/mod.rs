//! The web app: static files embedded at compile time, served at `/` beside the API.
//! The shell (`index.html`) answers every client-side route and is never stored by
//! a browser, so an upgrade is seen at once and a signed-out page keeps nothing;
//! assets carry an `ETag` and are revalidated (`304`) on every load.

mod assets;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};

pub use assets::{Asset, ASSETS};

use crate::http::response::{empty_body, full, with_content_type, Response};
use crate::http::HttpError;

/// The pages the app routes in the browser; each gets the shell.
pub const CLIENT_ROUTES: &[&str] = &[
    "/", "/signin", "/journal", "/history", "/week", "/months", "/account",
];

/// Where assets are served from, so that no asset name can shadow a client route.
pub const ASSET_PREFIX: &str = "/assets/";

/// The policy for every page and asset: nothing but our own origin, nothing inline.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; \
object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Paths under `/api` belong to the API, everything else to the web app.
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// The answer for a path outside `/api`.
///
/// # Errors
/// `NotFound` for a path that is neither a client route nor an asset,
/// `MethodNotAllowed` for anything but `GET` and `HEAD`.
pub fn answer(method: &Method, path: &str, headers: &HeaderMap) -> Result<Response, HttpError> {
    let target = if CLIENT_ROUTES.contains(&path) {
        Target::Shell
    } else {
        let asset = path
            .strip_prefix(ASSET_PREFIX)
            .and_then(assets::find)
            .ok_or(HttpError::NotFound)?;
        Target::Asset(asset)
    };
    if method != Method::GET && method != Method::HEAD {
        return Err(HttpError::MethodNotAllowed {
            allow: "GET, HEAD".into(),
        });
    }
    Ok(match target {
        Target::Shell => shell(),
        Target::Asset(asset) => asset_answer(asset, headers),
    })
}

enum Target {
    Shell,
    Asset(&'static Asset),
}

fn shell() -> Response {
    let mut response = with_content_type(
        StatusCode::OK,
        "text/html; charset=utf-8",
        full(assets::SHELL),
    );
    page_headers(response.headers_mut(), "no-store");
    response
}

fn asset_answer(asset: &'static Asset, request_headers: &HeaderMap) -> Response {
    let etag = asset.etag();
    let mut response = if if_none_match(request_headers, &etag) {
        let mut response = http::Response::new(empty_body());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        with_content_type(StatusCode::OK, asset.content_type, full(asset.bytes))
    };
    let headers = response.headers_mut();
    page_headers(headers, "no-cache");
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

/// `If-None-Match` names this version (a list, a weak tag or `*` included).
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

fn page_headers(headers: &mut HeaderMap, cache_control: &'static str) {
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_if_none_match(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    #[test]
    fn an_etag_matches_alone_in_a_list_weak_or_as_a_star() {
        let etag = "\"abc\"";
        assert!(if_none_match(&with_if_none_match("\"abc\""), etag));
        assert!(if_none_match(&with_if_none_match("\"x\", \"abc\""), etag));
        assert!(if_none_match(&with_if_none_match("W/\"abc\""), etag));
        assert!(if_none_match(&with_if_none_match("*"), etag));
        assert!(!if_none_match(&with_if_none_match("\"abd\""), etag));
        assert!(!if_none_match(&HeaderMap::new(), etag));
    }

    #[test]
    fn api_paths_are_the_api_and_nothing_else_is() {
        assert!(is_api_path("/api"));
        assert!(is_api_path("/api/entries"));
        assert!(!is_api_path("/apiary"));
        assert!(!is_api_path("/history"));
    }

    #[test]
    fn an_unknown_path_is_not_found_and_a_post_to_a_page_is_not_allowed() {
        let none = HeaderMap::new();
        assert_eq!(
            answer(&Method::GET, "/nope", &none).err(),
            Some(HttpError::NotFound)
        );
        assert_eq!(
            answer(&Method::GET, "/assets/../Cargo.toml", &none).err(),
            Some(HttpError::NotFound)
        );
        assert!(matches!(
            answer(&Method::POST, "/history", &none),
            Err(HttpError::MethodNotAllowed { .. })
        ));
    }
}
