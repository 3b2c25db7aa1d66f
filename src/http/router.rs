//! A `matchit` route table: the path picks a route, the method picks its handler,
//! and 404 or 405 (with `Allow`) are decided per path.

use std::future::Future;
use std::pin::Pin;

use http::Method;

use super::request::{percent_decode, RequestCtx};
use super::response::Response;
use crate::error::ApiError;

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send>>;
pub type Handler = fn(RequestCtx) -> HandlerFuture;

/// Wraps an `async fn(RequestCtx) -> Result<Response, ApiError>` as a [`Handler`].
#[macro_export]
macro_rules! handler {
    ($f:path) => {
        |ctx| Box::pin($f(ctx))
    };
}

struct Route {
    pattern: &'static str,
    methods: Vec<(Method, Handler)>,
}

#[derive(Default)]
pub struct Router {
    table: matchit::Router<usize>,
    routes: Vec<Route>,
}

/// What the table found for a request.
pub struct Found {
    pub pattern: &'static str,
    pub handler: Handler,
    pub params: Vec<(String, String)>,
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a handler; several methods may share one pattern.
    ///
    /// # Panics
    /// At start-up, on a pattern `matchit` refuses or a method registered twice:
    /// a programming error that must never reach a request.
    pub fn route(mut self, method: Method, pattern: &'static str, handler: Handler) -> Self {
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
    pub fn find(&self, method: &Method, path: &str) -> Result<Found, ApiError> {
        let matched = self.table.at(path).map_err(|_| ApiError::NotFound)?;
        let route = &self.routes[*matched.value];
        let handler = route
            .methods
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, h)| *h)
            .ok_or_else(|| ApiError::MethodNotAllowed {
                allow: allow_header(route),
            })?;
        let params = matched
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), percent_decode(v, false)))
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

fn allow_header(route: &Route) -> String {
    route
        .methods
        .iter()
        .map(|(m, _)| m.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
