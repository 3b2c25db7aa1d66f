//! Serene: the backend of a private, AI-assisted mood journal.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod export;
pub mod http;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod vibe;
