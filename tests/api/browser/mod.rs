//! Real-browser tests: Debian's headless Chromium driven over WebDriver
//! (`chromedriver`, through `fantoccini`) against the real server on port 0 with
//! the mock AI. `SERENE_BROWSER_TESTS=required` turns a missing browser into a
//! failure (CI); otherwise a machine without one skips these tests with one line.

mod flows;
mod screens;

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::helpers::{spawn_app, TestApp};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WAIT: Duration = Duration::from_secs(15);

/// Two cores: more than two browsers at once only makes each slower.
static BROWSERS: Semaphore = Semaphore::const_new(2);

/// Whether the browser tests run here; when not, one line says why, once.
fn browser_available() -> bool {
    let mode = std::env::var("SERENE_BROWSER_TESTS").unwrap_or_default();
    let found = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if mode == "required" {
        assert!(
            found,
            "SERENE_BROWSER_TESTS=required but {CHROMIUM} or {CHROMEDRIVER} is missing \
             (apt-get install chromium chromium-driver)"
        );
        return true;
    }
    if mode == "skip" || !found {
        static SAID: Once = Once::new();
        SAID.call_once(|| {
            let why = if found {
                "SERENE_BROWSER_TESTS=skip".to_owned()
            } else {
                format!("{CHROMIUM} or {CHROMEDRIVER} not found; apt-get install chromium chromium-driver to run them")
            };
            // Straight to the process's stderr: the test harness captures `eprintln!`
            // of passing tests, and this line must be seen.
            let _ = writeln!(std::io::stderr(), "browser tests skipped: {why}");
        });
        return false;
    }
    true
}

/// Where screenshots and reports go: `target/browser/`.
pub fn output_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser");
        std::fs::create_dir_all(&dir).expect("target/browser can be created");
        dir
    })
    .clone()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One chromedriver and one browser with its own profile; both end on drop.
pub struct Browser {
    pub client: Client,
    pub app: TestApp,
    pub downloads: tempfile::TempDir,
    driver: Child,
    _profile: tempfile::TempDir,
    _permit: SemaphorePermit<'static>,
}

impl Drop for Browser {
    /// Ends chromedriver and every browser it started (its process group), even
    /// when a test panicked before closing its session.
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

pub struct Options {
    pub width: u32,
    pub height: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            width: 1280,
            height: 900,
        }
    }
}

/// A browser on a fresh server, or `None` when browser tests are skipped here.
pub async fn browser() -> Option<Browser> {
    browser_with(Options::default()).await
}

pub async fn browser_with(options: Options) -> Option<Browser> {
    if !browser_available() {
        return None;
    }
    let permit = BROWSERS.acquire().await.expect("semaphore open");
    let app = spawn_app().await;
    let port = free_port();
    let driver = Command::new(CHROMEDRIVER)
        .process_group(0)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let profile = tempfile::tempdir().expect("profile dir");
    let downloads = tempfile::tempdir().expect("download dir");
    let args = vec![
        "--headless=new".to_owned(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-extensions".into(),
        "--hide-scrollbars".into(),
        format!("--window-size={},{}", options.width, options.height),
        format!("--user-data-dir={}", profile.path().display()),
    ];
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": args,
            "prefs": {
                "download.default_directory": downloads.path().display().to_string(),
                "download.prompt_for_download": false,
            },
        },
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    let capabilities = capabilities
        .as_object()
        .cloned()
        .expect("capabilities are an object");
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            Ok(client) => break client,
            Err(err) if started.elapsed() < WAIT => {
                let _ = err;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("no WebDriver session: {err}"),
        }
    };
    let browser = Browser {
        client,
        app,
        downloads,
        driver,
        _profile: profile,
        _permit: permit,
    };
    browser
        .cdp(
            "Browser.setDownloadBehavior",
            json!({ "behavior": "allow", "downloadPath": browser.downloads.path().display().to_string() }),
        )
        .await;
    // Chrome's headless window has a minimum width; a phone's viewport is emulated.
    browser
        .cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": options.width, "height": options.height,
                    "deviceScaleFactor": 1, "mobile": options.width < 600 }),
        )
        .await;
    Some(browser)
}

/// A raw WebDriver command, for the endpoints `fantoccini` has no method for
/// (Chrome's DevTools bridge and its browser log).
#[derive(Debug)]
struct Raw {
    method: http::Method,
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for Raw {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or(""),
            self.path
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (self.method.clone(), Some(self.body.to_string()))
    }
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        self.app.url(path)
    }

    /// A Chrome DevTools command through chromedriver.
    pub async fn cdp(&self, command: &str, params: Value) -> Value {
        self.client
            .issue_cmd(Raw {
                method: http::Method::POST,
                path: "goog/cdp/execute",
                body: json!({ "cmd": command, "params": params }),
            })
            .await
            .unwrap_or_else(|e| panic!("CDP {command}: {e}"))
    }

    /// Light or dark, and reduced motion, as the page's media queries see them.
    pub async fn emulate(&self, dark: bool, reduced_motion: bool) {
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": [
                { "name": "prefers-color-scheme", "value": if dark { "dark" } else { "light" } },
                { "name": "prefers-reduced-motion", "value": if reduced_motion { "reduce" } else { "no-preference" } },
            ]}),
        )
        .await;
    }

    /// Console messages at error level and uncaught exceptions since the last call.
    pub async fn console_errors(&self) -> Vec<String> {
        let log = self
            .client
            .issue_cmd(Raw {
                method: http::Method::POST,
                path: "se/log",
                body: json!({ "type": "browser" }),
            })
            .await
            .expect("the browser log");
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub async fn goto(&self, path: &str) {
        self.client.goto(&self.url(path)).await.expect("navigation");
    }

    /// Waits for an element by CSS selector.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// A control by its accessible name: a button, else a link, else a labelled field.
    pub async fn by_name(&self, name: &str) -> fantoccini::elements::Element {
        let candidates = [
            format!("//button[normalize-space(.)='{name}']"),
            format!("//a[normalize-space(.)='{name}']"),
            format!("//*[@id=//label[normalize-space(.)='{name}']/@for]"),
            format!("//input[@aria-label='{name}'] | //textarea[@aria-label='{name}']"),
        ];
        let started = Instant::now();
        loop {
            for xpath in &candidates {
                if let Ok(found) = self.client.find(Locator::XPath(xpath)).await {
                    return found;
                }
            }
            assert!(started.elapsed() < WAIT, "no control named {name}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn click(&self, name: &str) {
        self.by_name(name)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {name}: {e}"));
    }

    pub async fn type_into(&self, name: &str, text: &str) {
        let field = self.by_name(name).await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("typing");
    }

    /// Runs a script in the page and returns its value (a promise is awaited).
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls a script until it returns `true`.
    pub async fn until(&self, what: &str, script: &str) {
        let started = Instant::now();
        loop {
            if self.js(script).await == Value::Bool(true) {
                return;
            }
            if started.elapsed() > WAIT {
                let seen = self
                    .js("return location.pathname + '\\n' + document.body.innerText")
                    .await;
                panic!("timed out waiting for {what}; the page was at {seen}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn body_text(&self) -> String {
        self.js("return document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The API, called from the page with its cookie (the way the app calls it).
    pub async fn fetch(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let script = format!(
            "return fetch({path}, {{method: {method}, headers: {{'Content-Type': 'application/json'}}, body: {body}}})\
             .then(async r => [r.status, r.status === 204 ? null : await r.json().catch(() => null)])",
            path = json!(path),
            method = json!(method),
            body = body.map_or("undefined".to_owned(), |b| json!(b.to_string()).to_string()),
        );
        let answer = self.js(&script).await;
        let status = answer[0].as_u64().unwrap_or(0) as u16;
        (status, answer[1].clone())
    }

    /// Signs up through the form and waits for the journal.
    pub async fn sign_up(&self, email: &str) {
        self.goto("/").await;
        self.type_into("Email", email).await;
        self.type_into("Password", crate::helpers::PASSWORD).await;
        self.click("Create account").await;
        self.find("textarea").await;
    }

    pub async fn choose_mood(&self, mood: &str) {
        let xpath = format!("//label[normalize-space(.)='{mood}']/input[@type='radio']");
        self.client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no mood {mood}: {e}"))
            .click()
            .await
            .expect("mood chosen");
    }

    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(output_dir().join(format!("{name}.png")), png).expect("screenshot saved");
    }

    /// axe-core's serious and critical violations on the page as it is now.
    pub async fn axe_violations(&self) -> Vec<String> {
        static AXE: &str = include_str!("../../vendor/axe-core/axe.min.js");
        let script = format!(
            "{AXE}\n;return axe.run(document, {{ resultTypes: ['violations'] }})\
             .then(r => r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')\
             .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', ')));"
        );
        let found = self.js(&script).await;
        found
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Ends the WebDriver session; dropping then stops chromedriver.
    pub async fn end(self) {
        let _ = self.client.clone().close().await;
    }
}
