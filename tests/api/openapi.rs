use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

fn document() -> Value {
    serde_json::from_str(serene::api::OPENAPI_DOCUMENT).expect("the document is JSON")
}

#[tokio::test]
async fn the_document_is_served_as_json() {
    let app = spawn_app().await;
    let response = app.get("/api/openapi.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let served: Value = response.json().await.unwrap();
    assert_eq!(served, document());
    assert_eq!(served["openapi"], "3.1.0");
}

#[test]
fn the_router_and_the_document_have_the_same_routes() {
    let routed: BTreeSet<(String, String)> = serene::api::router()
        .routes()
        .into_iter()
        .map(|(method, path)| (method.as_str().to_lowercase(), path.to_owned()))
        .filter(|(_, path)| !path.starts_with("/api/test/"))
        .collect();
    let doc = document();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    assert_eq!(routed, documented);
}

#[test]
fn the_documented_time_zones_are_the_ones_the_server_knows() {
    let doc = document();
    let documented: BTreeSet<&str> = doc["paths"]["/api/analytics/weekly"]["get"]["parameters"][0]
        ["schema"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let known: BTreeSet<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
    assert_eq!(documented, known);
}

#[test]
fn every_error_code_of_the_contract_is_documented() {
    let doc = document();
    let codes: BTreeSet<&str> = doc["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for code in [
        "INVALID_JSON",
        "UNAUTHENTICATED",
        "INVALID_CREDENTIALS",
        "CSRF_REJECTED",
        "NOT_FOUND",
        "METHOD_NOT_ALLOWED",
        "EMAIL_TAKEN",
        "PAYLOAD_TOO_LARGE",
        "UNSUPPORTED_MEDIA_TYPE",
        "VALIDATION_ERROR",
        "RATE_LIMITED",
        "INTERNAL_ERROR",
    ] {
        assert!(codes.contains(code), "{code}");
    }
}
