//! What a handler gets: the request from the plumbing and the application state.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::cookie::COOKIE_NAME;
use super::state::AppState;
use super::ApiError;
use crate::auth::AuthUser;
use crate::db::EntryKeys;
use crate::http::Request;

pub struct Ctx {
    pub state: Arc<AppState>,
    pub request: Request,
}

impl Ctx {
    /// The caller, from a valid session cookie.
    ///
    /// # Errors
    /// `Unauthenticated` without one.
    pub fn user(&self) -> Result<AuthUser, ApiError> {
        Ok(self
            .state
            .accounts
            .sessions()
            .verify(self.request.cookie(COOKIE_NAME))?)
    }

    /// The caller's keys for their entries. A valid session of an account whose
    /// key was shredded (an older backup) is no session.
    ///
    /// # Errors
    /// `Unauthenticated` without a key; 500 when the key store fails.
    pub async fn entry_keys(&self, user: &AuthUser) -> Result<EntryKeys, ApiError> {
        self.state
            .accounts
            .keys()
            .entry_keys(&user.id)
            .await
            .map_err(ApiError::internal)?
            .ok_or(ApiError::Unauthenticated)
    }

    /// The body as a JSON object, under the plumbing's limits.
    ///
    /// # Errors
    /// The contract's 400, 408, 413 and 415 answers.
    pub async fn json_object(&mut self) -> Result<Map<String, Value>, ApiError> {
        Ok(self.request.json_object().await?)
    }

    pub fn query(&self) -> HashMap<String, String> {
        self.request.query()
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.request.param(name)
    }

    pub fn client_ip(&self) -> IpAddr {
        self.request.client_ip
    }
}
