//! A `matchit` route table: the path picks a route, the method picks its handler,
//! and 404 or 405 (with `Allow`) are decided per path. The handler type is the
//! caller's, so the table knows nothing of what a handler does.

use http::Method;

use super::request::decode_path_segment;
use super::HttpError;

struct Route<H> {
    pattern: &'static str,
    methods: Vec<(Method, H)>,
}

pub struct Router<H> {
    table: matchit::Router<usize>,
    routes: Vec<Route<H>>,
}

/// What the table found for a request.
pub struct Found<H> {
    pub pattern: &'static str,
    pub handler: H,
    pub params: Vec<(String, String)>,
}

impl<H> Default for Router<H> {
    fn default() -> Self {
        Self {
            table: matchit::Router::new(),
            routes: Vec::new(),
        }
    }
}

impl<H: Copy> Router<H> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a handler; several methods may share one pattern.
    ///
    /// # Panics
    /// At start-up, on a pattern `matchit` refuses or a method registered twice:
    /// a programming error that must never reach a request.
    pub fn route(mut self, method: Method, pattern: &'static str, handler: H) -> Self {
        let index = match self.routes.iter().position(|r| r.pattern == pattern) {
            Some(index) => index,
            None => {
                self.table
                    .insert(pattern, self.routes.len())
                    .unwrap_or_else(|e| panic!("invalid route {pattern}: {e}"));
                self.routes.push(Route {
                    pattern,
                    methods: Vec::new(),
                });
                self.routes.len() - 1
            }
        };
        let methods = &mut self.routes[index].methods;
        assert!(
            methods.iter().all(|(m, _)| *m != method),
            "{method} {pattern} registered twice"
        );
        methods.push((method, handler));
        self
    }

    /// Finds the handler for a method and path.
    ///
    /// # Errors
    /// `NotFound` for an unknown path, `MethodNotAllowed` listing the path's methods.
    pub fn find(&self, method: &Method, path: &str) -> Result<Found<H>, HttpError> {
        let matched = self.table.at(path).map_err(|_| HttpError::NotFound)?;
        let route = &self.routes[*matched.value];
        let handler = route
            .methods
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, h)| *h)
            .ok_or_else(|| HttpError::MethodNotAllowed {
                allow: allow_header(route),
            })?;
        let params = matched
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), decode_path_segment(v)))
            .collect();
        Ok(Found {
            pattern: route.pattern,
            handler,
            params,
        })
    }

    /// The methods registered for a path, if the path is known (for CORS preflight).
    pub fn methods_for(&self, path: &str) -> Option<String> {
        let matched = self.table.at(path).ok()?;
        Some(allow_header(&self.routes[*matched.value]))
    }

    /// Every (method, pattern) pair, for comparing with the OpenAPI document.
    pub fn routes(&self) -> Vec<(Method, &'static str)> {
        self.routes
            .iter()
            .flat_map(|r| r.methods.iter().map(|(m, _)| (m.clone(), r.pattern)))
            .collect()
    }
}

fn allow_header<H>(route: &Route<H>) -> String {
    route
        .methods
        .iter()
        .map(|(m, _)| m.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
