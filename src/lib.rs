//! Serene: the backend of a private, AI-assisted mood journal.
//!
//! The layers depend one way (see ARCHITECTURE.md):
//! `cli`/`startup` -> `api` -> {`auth`, `vibe`, `export`} -> {`db`, `domain`};
//! `api` -> `web` -> `http`; `db` -> `domain`; `config`, `fnv` and `telemetry` are leaves.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod export;
pub mod fnv;
pub mod http;
pub mod startup;
pub mod telemetry;
pub mod vibe;
pub mod web;
