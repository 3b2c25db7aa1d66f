//! `spawn_app()`: the real server on port 0 over a fresh SQLite file, and typed
//! helpers that talk real HTTP to it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use reqwest::{header, Response, StatusCode};
use serde_json::{json, Value};
use serene::api::{AppState, Router};
use serene::config::Config;
use serene::handler;
use serene::startup::Application;
use tempfile::TempDir;
use tokio::sync::oneshot;
use wiremock::MockServer;

pub const PASSWORD: &str = "correct horse battery";
pub const TEST_SECRET: &str = "test-secret-test-secret-test-secret!";

pub fn note(text: &str) -> String {
    format!("{text} Today I took a long walk and wrote down what I noticed along the way.")
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub dir: TempDir,
    pub state: Arc<AppState>,
    pub openai: Option<MockServer>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// A variable map for `Config::from_vars`, with test defaults (bcrypt cost 10, port 0).
pub fn test_vars(dir: &TempDir) -> HashMap<String, String> {
    HashMap::from([
        (
            "DATABASE_URL".into(),
            dir.path().join("serene.db").display().to_string(),
        ),
        ("PORT".into(), "0".into()),
        ("BCRYPT_COST".into(), "10".into()),
        ("JWT_SECRET".into(), TEST_SECRET.into()),
        ("VIBE_BACKEND".into(), "mock".into()),
    ])
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customise: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut vars = test_vars(&dir);
    customise(&mut vars);
    start(dir, vars, None).await
}

/// The app on a data directory prepared by the test (for example an older schema).
pub async fn spawn_app_in(dir: TempDir) -> TestApp {
    let vars = test_vars(&dir);
    start(dir, vars, None).await
}

/// The app with settings that have no environment variable (timeouts).
pub async fn spawn_app_with_config(customise: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let vars = test_vars(&dir);
    start_with(dir, vars, None, customise).await
}

/// The app with the OpenAI backend pointed at a wiremock server.
pub async fn spawn_app_with_openai(
    customise: impl FnOnce(&mut HashMap<String, String>),
) -> TestApp {
    let openai = MockServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut vars = test_vars(&dir);
    vars.insert("VIBE_BACKEND".into(), "openai".into());
    vars.insert("OPENAI_API_KEY".into(), "sk-test-key".into());
    vars.insert("OPENAI_BASE_URL".into(), format!("{}/v1", openai.uri()));
    vars.insert("OPENAI_MODEL".into(), "gpt-test".into());
    vars.insert("OPENAI_TIMEOUT_MS".into(), "2000".into());
    customise(&mut vars);
    start(dir, vars, Some(openai)).await
}

async fn panicking_handler(
    _ctx: serene::api::Ctx,
) -> Result<serene::http::Response, serene::api::ApiError> {
    panic!("a handler bug");
}

async fn start(dir: TempDir, vars: HashMap<String, String>, openai: Option<MockServer>) -> TestApp {
    start_with(dir, vars, openai, |_| {}).await
}

async fn start_with(
    dir: TempDir,
    vars: HashMap<String, String>,
    openai: Option<MockServer>,
    customise: impl FnOnce(&mut Config),
) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        let _ = serene::telemetry::init(Some("debug"));
    }
    let mut config = Config::from_vars(&vars).expect("valid test configuration");
    customise(&mut config);
    let router: Router = serene::api::router().route(
        http::Method::GET,
        "/api/test/panic",
        handler!(panicking_handler),
    );
    let app = Application::build_with_router(config, router)
        .await
        .expect("app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        dir,
        state,
        openai,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("serene.db")
    }

    /// A connection of the test's own to the live database, waiting out the
    /// server's writer instead of failing on its lock.
    pub fn open_db(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(self.db_path()).expect("open the database");
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .expect("busy timeout");
        conn
    }

    pub fn openai(&self) -> &MockServer {
        self.openai
            .as_ref()
            .expect("app started with spawn_app_with_openai")
    }

    /// Stops this server and starts another on the same database and configuration.
    pub async fn restart(mut self) -> TestApp {
        let mut vars = test_vars(&self.dir);
        if let Some(openai) = &self.openai {
            vars.insert("VIBE_BACKEND".into(), "openai".into());
            vars.insert("OPENAI_API_KEY".into(), "sk-test-key".into());
            vars.insert("OPENAI_BASE_URL".into(), format!("{}/v1", openai.uri()));
        }
        self.stop().await;
        let TestApp {
            dir, state, openai, ..
        } = self;
        // The key store is held by one process at a time: the old state lets go first.
        drop(state);
        start(dir, vars, openai).await
    }

    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.send().await.expect("request sent")
    }

    /// The JSON body of a `GET`, whatever its status.
    pub async fn get_json(&self, path: &str, cookie: Option<&str>) -> Value {
        self.get(path, cookie)
            .await
            .json()
            .await
            .expect("a JSON body")
    }

    pub async fn post_json(&self, path: &str, body: &Value, cookie: Option<&str>) -> Response {
        self.send_json(reqwest::Method::POST, path, body, cookie)
            .await
    }

    pub async fn put_json(&self, path: &str, body: &Value, cookie: Option<&str>) -> Response {
        self.send_json(reqwest::Method::PUT, path, body, cookie)
            .await
    }

    pub async fn delete(&self, path: &str, cookie: Option<&str>) -> Response {
        let mut request = self.client.delete(self.url(path));
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.send().await.expect("request sent")
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
        cookie: Option<&str>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path)).json(body);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.send().await.expect("request sent")
    }

    pub async fn register(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/auth/register",
            &json!({"email": email, "password": password}),
            None,
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/auth/login",
            &json!({"email": email, "password": password}),
            None,
        )
        .await
    }

    /// Registers a fresh account and returns its `Cookie` header value.
    pub async fn signed_up_user(&self, email: &str) -> String {
        let response = self.register(email, PASSWORD).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "registration of {email}"
        );
        session_cookie(&response).expect("session cookie set")
    }

    pub async fn create_entry(&self, cookie: &str, body: &Value) -> Value {
        let response = self.post_json("/api/entries", body, Some(cookie)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("entry JSON")
    }
}

impl TestApp {
    /// The id of the cookie's user.
    /// A user's keys, for tests that write through the store directly.
    pub async fn entry_keys(&self, user_id: &str) -> serene::db::EntryKeys {
        self.state
            .accounts
            .keys()
            .entry_keys(user_id)
            .await
            .expect("key store")
            .expect("the user has a key")
    }

    pub async fn user_id(&self, cookie: &str) -> String {
        let me: Value = self
            .get("/api/auth/me", Some(cookie))
            .await
            .json()
            .await
            .expect("me");
        me["id"].as_str().expect("id").to_owned()
    }

    /// Stores an entry straight through the database layer, created at `created_at`
    /// (milliseconds): for times a test must choose, such as shared timestamps.
    pub async fn insert_entry_at(&self, cookie: &str, created_at: i64, mood: &str) {
        let entry = serene::domain::NewEntry::parse(
            json!({"mood": mood, "note": note("Inserted through the database layer.")})
                .as_object()
                .expect("object"),
        )
        .expect("a valid entry");
        let user_id = self.user_id(cookie).await;
        let keys = self.entry_keys(&user_id).await;
        self.state
            .db
            .entries()
            .insert(&keys, &entry, None, created_at)
            .await
            .expect("insert");
    }
}

/// `serene_token=<value>` from a response's `Set-Cookie`, ready for a `Cookie` header.
pub fn session_cookie(response: &Response) -> Option<String> {
    set_cookie(response).map(|c| c.split(';').next().unwrap_or_default().trim().to_owned())
}

pub fn set_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("serene_token="))
        .map(str::to_owned)
}

/// The contract's security headers and request id, present on every answer.
pub fn assert_security_headers(response: &Response) {
    let h = response.headers();
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h.contains_key("x-request-id"));
}

/// The cookie no longer opens a session.
pub async fn assert_signed_out(app: &TestApp, cookie: &str) {
    assert_error(
        app.get("/api/auth/me", Some(cookie)).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
}

/// The cookie opens a session.
pub async fn assert_signed_in(app: &TestApp, cookie: &str) {
    assert_eq!(
        app.get("/api/auth/me", Some(cookie)).await.status(),
        StatusCode::OK
    );
}

/// An error answer: status, `{"error","code"}` JSON, security headers. Returns the body.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status for {code}");
    assert_security_headers(&response);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "error bodies are JSON"
    );
    let body: Value = response.json().await.expect("error JSON");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}
