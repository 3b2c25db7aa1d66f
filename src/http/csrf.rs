//! Cross-site request forgery defence for cookie sessions: state-changing requests
//! must come from our own origin or an allowed one (by `Origin`, or else by
//! `Sec-Fetch-Site`). Requests with neither header (curl, servers) pass.

use http::{header, HeaderMap, Method};

use super::HttpError;

/// # Errors
/// `CsrfRejected` for a state-changing request from a foreign origin.
pub fn check(
    method: &Method,
    headers: &HeaderMap,
    allowed_origins: &[String],
) -> Result<(), HttpError> {
    if !matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        return Ok(());
    }
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
    };
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().map_err(|_| HttpError::CsrfRejected)?;
        let own_host = text(header::HOST);
        return if is_same_origin(origin, own_host) || is_allowed(origin, allowed_origins) {
            Ok(())
        } else {
            Err(HttpError::CsrfRejected)
        };
    }
    match text(header::HeaderName::from_static("sec-fetch-site")) {
        Some(site) if site.eq_ignore_ascii_case("cross-site") => Err(HttpError::CsrfRejected),
        _ => Ok(()),
    }
}

/// An origin allowed by `ALLOWED_ORIGINS` (compared without case or a trailing slash).
pub fn is_allowed(origin: &str, allowed_origins: &[String]) -> bool {
    let origin = origin.trim_end_matches('/');
    allowed_origins
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(origin))
}

/// The origin names the host the request was sent to (`Origin: null` never does).
fn is_same_origin(origin: &str, own_host: Option<&str>) -> bool {
    let Some(own_host) = own_host else {
        return false;
    };
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .map(|rest| rest.trim_end_matches('/'));
    origin_host.is_some_and(|host| host.eq_ignore_ascii_case(own_host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn a_request_without_origin_or_fetch_metadata_passes() {
        assert!(check(&Method::POST, &headers(&[]), &[]).is_ok());
    }

    #[test]
    fn a_foreign_origin_is_rejected_and_our_own_passes() {
        let allowed = vec!["https://app.example".to_string()];
        let foreign = headers(&[("origin", "https://evil.example"), ("host", "api.example")]);
        assert!(check(&Method::POST, &foreign, &allowed).is_err());
        let own = headers(&[("origin", "http://api.example"), ("host", "api.example")]);
        assert!(check(&Method::DELETE, &own, &allowed).is_ok());
        let listed = headers(&[("origin", "https://app.example"), ("host", "api.example")]);
        assert!(check(&Method::PUT, &listed, &allowed).is_ok());
        let null = headers(&[("origin", "null"), ("host", "api.example")]);
        assert!(check(&Method::POST, &null, &allowed).is_err());
    }

    #[test]
    fn cross_site_fetch_metadata_is_rejected_without_origin() {
        let h = headers(&[("sec-fetch-site", "cross-site")]);
        assert!(check(&Method::POST, &h, &[]).is_err());
        assert!(check(&Method::GET, &h, &[]).is_ok());
        assert!(check(
            &Method::POST,
            &headers(&[("sec-fetch-site", "same-origin")]),
            &[]
        )
        .is_ok());
    }
}
