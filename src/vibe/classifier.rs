//! The optional second opinion on a note (`GUARD_MODEL`): a real classifier asked
//! after the local crisis list has passed the note and before the reply model is
//! called. It can only add a `guardrail` answer, never take one away; when it
//! fails or is slow the note goes on, since the local list already ran.

use bytes::Bytes;
use http::{StatusCode, Uri};
use serde_json::{json, Value};

use super::openai::{endpoint, json_post, read_limited, HttpsClient};
use super::{BackendError, BoxFuture};
use crate::config::{GuardModel, OpenAiConfig};

/// Self-harm categories of the OpenAI moderation endpoint.
const SELF_HARM_CATEGORIES: &[&str] = &["self-harm", "self-harm/intent", "self-harm/instructions"];
/// Llama Guard's category for suicide and self-harm.
const LLAMA_GUARD_SELF_HARM: &str = "S11";

pub trait Classifier: Send + Sync {
    fn name(&self) -> &'static str;

    /// Whether the note holds crisis language.
    fn is_crisis<'a>(&'a self, note: &'a str) -> BoxFuture<'a, Result<bool, BackendError>>;
}

/// The classifier `GUARD_MODEL` names, on the reply backend's client.
///
/// # Errors
/// The base URL cannot form the endpoint.
pub fn from_config(
    guard: &GuardModel,
    openai: &OpenAiConfig,
    client: HttpsClient,
) -> Result<Option<Box<dyn Classifier>>, BackendError> {
    let api_key = openai.api_key.clone();
    Ok(match guard {
        GuardModel::Off => None,
        GuardModel::Moderation { model } => Some(Box::new(Moderation {
            client,
            endpoint: endpoint(&openai.base_url, "moderations")?,
            api_key,
            model: model.clone(),
        })),
        GuardModel::LlamaGuard { model } => Some(Box::new(LlamaGuard {
            client,
            endpoint: endpoint(&openai.base_url, "chat/completions")?,
            api_key,
            model: model.clone(),
        })),
    })
}

async fn post_json(
    client: &HttpsClient,
    endpoint: &Uri,
    api_key: Option<&str>,
    body: Value,
) -> Result<Value, BackendError> {
    let request = json_post(endpoint, api_key, Bytes::from(body.to_string()))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| BackendError::Connection(e.to_string()))?;
    let status = response.status();
    if status != StatusCode::OK {
        return Err(BackendError::Status(status.as_u16()));
    }
    let bytes = read_limited(response.into_body()).await?;
    serde_json::from_slice(&bytes).map_err(|_| BackendError::Unusable("malformed JSON"))
}

/// `POST /moderations`: crisis when a self-harm category is flagged.
pub struct Moderation {
    client: HttpsClient,
    endpoint: Uri,
    api_key: Option<String>,
    model: String,
}

impl Moderation {
    async fn ask(&self, note: &str) -> Result<bool, BackendError> {
        let body = json!({ "model": self.model, "input": note });
        let answer = post_json(&self.client, &self.endpoint, self.api_key.as_deref(), body).await?;
        let categories = answer
            .pointer("/results/0/categories")
            .and_then(Value::as_object)
            .ok_or(BackendError::Unusable("no moderation categories"))?;
        Ok(SELF_HARM_CATEGORIES
            .iter()
            .any(|name| categories.get(*name).and_then(Value::as_bool) == Some(true)))
    }
}

impl Classifier for Moderation {
    fn name(&self) -> &'static str {
        "moderation"
    }

    fn is_crisis<'a>(&'a self, note: &'a str) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(self.ask(note))
    }
}

/// Llama Guard through chat completions: crisis when it answers `unsafe` with S11.
pub struct LlamaGuard {
    client: HttpsClient,
    endpoint: Uri,
    api_key: Option<String>,
    model: String,
}

impl LlamaGuard {
    async fn ask(&self, note: &str) -> Result<bool, BackendError> {
        let body = json!({
            "model": self.model,
            "messages": [{"role": "user", "content": note}],
            "max_tokens": 16,
            "temperature": 0,
            "stream": false,
        });
        let answer = post_json(&self.client, &self.endpoint, self.api_key.as_deref(), body).await?;
        let verdict = answer
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .ok_or(BackendError::Unusable("no Llama Guard verdict"))?;
        parse_llama_guard(verdict)
    }
}

/// `safe`, or `unsafe` followed by the violated categories (`S1,S11`). An `unsafe`
/// without categories errs towards firing.
fn parse_llama_guard(verdict: &str) -> Result<bool, BackendError> {
    let mut lines = verdict.trim().lines().map(str::trim);
    match lines.next().map(str::to_ascii_lowercase).as_deref() {
        Some("safe") => Ok(false),
        Some("unsafe") => {
            let categories: Vec<&str> = lines
                .flat_map(|line| line.split(','))
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            Ok(categories.is_empty()
                || categories
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(LLAMA_GUARD_SELF_HARM)))
        }
        _ => Err(BackendError::Unusable("unreadable Llama Guard verdict")),
    }
}

impl Classifier for LlamaGuard {
    fn name(&self) -> &'static str {
        "llama-guard"
    }

    fn is_crisis<'a>(&'a self, note: &'a str) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(self.ask(note))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama_guard_verdicts_are_read_by_category() {
        assert!(!parse_llama_guard("safe").unwrap());
        assert!(parse_llama_guard("unsafe\nS11").unwrap());
        assert!(parse_llama_guard(" unsafe\nS1,S11 ").unwrap());
        assert!(
            !parse_llama_guard("unsafe\nS1").unwrap(),
            "other harms are not a crisis note"
        );
        assert!(!parse_llama_guard("unsafe\nS111").unwrap());
        assert!(
            parse_llama_guard("unsafe").unwrap(),
            "no category: err towards firing"
        );
        assert!(parse_llama_guard("I think this is fine").is_err());
        assert!(parse_llama_guard("").is_err());
    }
}
