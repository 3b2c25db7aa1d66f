//! One test binary: each module covers one area of the contract.

mod abuse;
mod analytics;
mod architecture;
mod auth;
mod browser;
mod data_ownership;
mod entries;
mod guard_model;
mod helpers;
mod http_errors;
mod keys;
mod openapi;
mod process;
mod sealed;
mod search;
mod tokens;
mod vibe;
mod web;
