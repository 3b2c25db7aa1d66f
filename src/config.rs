//! Typed configuration read once from the environment.
//!
//! Every variable is validated at start; a bad value stops the server with one
//! line naming the variable, so a typo never silently becomes a default.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::crypto::Key;

pub const DEFAULT_DATABASE_URL: &str = "sqlite:///./data/serene.db";
pub const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4o-mini";
const MIN_SECRET_BYTES: usize = 32;
const MIN_BCRYPT_COST: u32 = 10;
const MAX_BCRYPT_COST: u32 = 31;

/// A configuration problem, phrased for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl ConfigError {
    fn new(variable: &'static str, message: impl Into<String>) -> Self {
        Self {
            variable,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VibeBackendKind {
    OpenAi,
    Mock,
    Rules,
}

/// Where the JWT signing secret comes from.
#[derive(Clone)]
pub enum SecretSource {
    /// `JWT_SECRET` was set.
    Given(Vec<u8>),
    /// Generated once and kept in a file of the data directory.
    File(PathBuf),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Given(_) => f.write_str("Given(<redacted>)"),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// Where the master key (which wraps every user's data key) comes from.
#[derive(Clone)]
pub enum MasterKeySource {
    /// `MASTER_KEY`: the base64 of 32 bytes, checked here.
    Given(Key),
    /// `MASTER_KEY_FILE`: a file holding that base64, which must exist.
    File(PathBuf),
    /// Neither set: generated once into the data directory, with a warning.
    Generated(PathBuf),
}

impl std::fmt::Debug for MasterKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Given(_) => f.write_str("Given(<redacted>)"),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Generated(path) => f.debug_tuple("Generated").field(path).finish(),
        }
    }
}

#[derive(Clone)]
pub struct OpenAiConfig {
    pub api_key: Option<String>,
    pub base_url: String,
    pub model: String,
    pub timeout: Duration,
}

/// The optional second opinion on a note, after the local crisis list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardModel {
    Off,
    /// `POST {OPENAI_BASE_URL}/moderations` with this model.
    Moderation {
        model: String,
    },
    /// A Llama Guard model through the chat completions API.
    LlamaGuard {
        model: String,
    },
}

pub const DEFAULT_MODERATION_MODEL: &str = "omni-moderation-latest";
pub const DEFAULT_LLAMA_GUARD_MODEL: &str = "llama-guard3:1b";

impl std::fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_path: PathBuf,
    /// The key store: wrapped data keys, kept apart from the data so that copies
    /// of the data never carry the keys.
    pub keys_database_path: PathBuf,
    pub master_key: MasterKeySource,
    pub jwt_secret: SecretSource,
    pub jwt_ttl: Duration,
    pub cookie_secure: bool,
    pub allowed_origins: Vec<String>,
    pub trust_proxy: bool,
    pub bcrypt_cost: u32,
    pub host: IpAddr,
    pub port: u16,
    pub vibe_backend: VibeBackendKind,
    pub openai: OpenAiConfig,
    /// Only the openai backend consults it; mock and rules never call out.
    pub guard_model: GuardModel,
    /// Vibe checks allowed per user and minute (AI endpoints and entry writes together).
    pub vibe_checks_per_minute: u32,
    /// Artificial delay of the mock backend; lets tests and benchmarks hold a request open.
    pub mock_delay: Duration,
    /// Slow or idle clients lose their connection after this long without a full
    /// request head. Not an environment setting; tests shorten it.
    pub header_read_timeout: Duration,
    /// A request body must arrive completely within this time (slow-body clients).
    pub body_read_timeout: Duration,
    /// Rows sealed per transaction by the upgrade to encryption at start.
    pub upgrade_batch_rows: usize,
    /// Stops the start after this many upgrade batches, as a crash would: tests
    /// use it to prove the upgrade resumes. Never set by the environment.
    pub upgrade_batches_before_stop: Option<usize>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Reads configuration from a map of variables (the environment, or a test's own map).
    ///
    /// # Errors
    /// The first variable whose value is unusable, with the reason.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());

        let database_path = parse_database_url(get("DATABASE_URL").unwrap_or(DEFAULT_DATABASE_URL))
            .map_err(|m| ConfigError::new("DATABASE_URL", m))?;
        let keys_database_path = match get("KEYS_DATABASE_URL") {
            None => data_dir(&database_path).join("serene.keys.db"),
            Some(url) => {
                parse_database_url(url).map_err(|m| ConfigError::new("KEYS_DATABASE_URL", m))?
            }
        };
        if keys_database_path == database_path {
            return Err(ConfigError::new(
                "KEYS_DATABASE_URL",
                "must name another file than DATABASE_URL: the keys are kept apart from the data",
            ));
        }
        let master_key = match (get("MASTER_KEY"), get("MASTER_KEY_FILE")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "MASTER_KEY",
                    "set MASTER_KEY or MASTER_KEY_FILE, not both",
                ))
            }
            (Some(text), None) => MasterKeySource::Given(Key::from_base64(text).map_err(|_| {
                ConfigError::new(
                    "MASTER_KEY",
                    "must be the base64 of 32 random bytes (for example `openssl rand -base64 32`)",
                )
            })?),
            (None, Some(path)) => MasterKeySource::File(PathBuf::from(path)),
            (None, None) => MasterKeySource::Generated(data_dir(&database_path).join("master.key")),
        };
        let jwt_secret = match vars.get("JWT_SECRET").filter(|v| !v.is_empty()) {
            Some(secret) if secret.len() < MIN_SECRET_BYTES => {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    format!(
                        "must be at least {MIN_SECRET_BYTES} bytes long (got {})",
                        secret.len()
                    ),
                ))
            }
            Some(secret) => SecretSource::Given(secret.as_bytes().to_vec()),
            None => SecretSource::File(data_dir(&database_path).join("jwt_secret")),
        };
        let jwt_ttl_seconds: u64 =
            parse_number(get("JWT_TTL_SECONDS"), "JWT_TTL_SECONDS", 7 * 24 * 3600)?;
        if !(60..=366 * 24 * 3600).contains(&jwt_ttl_seconds) {
            return Err(ConfigError::new(
                "JWT_TTL_SECONDS",
                "must be between 60 and 31622400 seconds",
            ));
        }
        let cookie_secure = parse_bool(get("COOKIE_SECURE"), "COOKIE_SECURE", true)?;
        let allowed_origins = match get("ALLOWED_ORIGINS") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(|o| parse_origin(o).map_err(|m| ConfigError::new("ALLOWED_ORIGINS", m)))
                .collect::<Result<_, _>>()?,
        };
        let trust_proxy = parse_bool(get("TRUST_PROXY"), "TRUST_PROXY", false)?;
        let bcrypt_cost: u32 = parse_number(get("BCRYPT_COST"), "BCRYPT_COST", 12)?;
        if !(MIN_BCRYPT_COST..=MAX_BCRYPT_COST).contains(&bcrypt_cost) {
            return Err(ConfigError::new(
                "BCRYPT_COST",
                format!("must be between {MIN_BCRYPT_COST} and {MAX_BCRYPT_COST}"),
            ));
        }
        let host = match get("HOST") {
            None => IpAddr::from([127, 0, 0, 1]),
            Some("localhost") => IpAddr::from([127, 0, 0, 1]),
            Some(h) => h
                .parse()
                .map_err(|_| ConfigError::new("HOST", format!("'{h}' is not an IP address")))?,
        };
        let port: u16 = parse_number(get("PORT"), "PORT", 8080)?;

        let api_key = get("OPENAI_API_KEY").map(str::to_owned);
        let vibe_backend = match get("VIBE_BACKEND") {
            None if api_key.is_some() => VibeBackendKind::OpenAi,
            None => VibeBackendKind::Mock,
            Some("openai") => VibeBackendKind::OpenAi,
            Some("mock") => VibeBackendKind::Mock,
            Some("rules") => VibeBackendKind::Rules,
            Some(other) => {
                return Err(ConfigError::new(
                    "VIBE_BACKEND",
                    format!("'{other}' is not one of openai, mock, rules"),
                ))
            }
        };
        let base_url = get("OPENAI_BASE_URL")
            .unwrap_or(DEFAULT_OPENAI_BASE_URL)
            .trim_end_matches('/')
            .to_owned();
        validate_base_url(&base_url).map_err(|m| ConfigError::new("OPENAI_BASE_URL", m))?;
        if vibe_backend == VibeBackendKind::OpenAi
            && api_key.is_none()
            && base_url == DEFAULT_OPENAI_BASE_URL
        {
            return Err(ConfigError::new(
                "OPENAI_API_KEY",
                "must be set when VIBE_BACKEND=openai uses api.openai.com",
            ));
        }
        let timeout_ms: u64 = parse_number(get("OPENAI_TIMEOUT_MS"), "OPENAI_TIMEOUT_MS", 10_000)?;
        if !(100..=120_000).contains(&timeout_ms) {
            return Err(ConfigError::new(
                "OPENAI_TIMEOUT_MS",
                "must be between 100 and 120000",
            ));
        }
        let guard_model_name = get("GUARD_MODEL_NAME").map(str::to_owned);
        let guard_model = match get("GUARD_MODEL") {
            None | Some("off") => GuardModel::Off,
            Some("moderation") => GuardModel::Moderation {
                model: guard_model_name.unwrap_or_else(|| DEFAULT_MODERATION_MODEL.to_owned()),
            },
            Some("llama-guard") => GuardModel::LlamaGuard {
                model: guard_model_name.unwrap_or_else(|| DEFAULT_LLAMA_GUARD_MODEL.to_owned()),
            },
            Some(other) => {
                return Err(ConfigError::new(
                    "GUARD_MODEL",
                    format!("'{other}' is not one of off, moderation, llama-guard"),
                ))
            }
        };
        let openai = OpenAiConfig {
            api_key,
            base_url,
            model: get("OPENAI_MODEL")
                .unwrap_or(DEFAULT_OPENAI_MODEL)
                .to_owned(),
            timeout: Duration::from_millis(timeout_ms),
        };

        Ok(Self {
            database_path,
            keys_database_path,
            master_key,
            jwt_secret,
            jwt_ttl: Duration::from_secs(jwt_ttl_seconds),
            cookie_secure,
            allowed_origins,
            trust_proxy,
            bcrypt_cost,
            host,
            port,
            vibe_backend,
            openai,
            guard_model,
            vibe_checks_per_minute: 30,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            upgrade_batch_rows: 500,
            upgrade_batches_before_stop: None,
            mock_delay: Duration::from_millis(parse_number(
                get("MOCK_DELAY_MS"),
                "MOCK_DELAY_MS",
                0,
            )?),
        })
    }

    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }
}

/// The directory that holds the database file (and the generated secret).
pub fn data_dir(database_path: &Path) -> PathBuf {
    match database_path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Accepts `sqlite:///relative/path.db` (three slashes: relative, SQLAlchemy style),
/// `sqlite:////abs/path.db` (four slashes: absolute) and a plain file path.
fn parse_database_url(url: &str) -> Result<PathBuf, String> {
    let path = if let Some(rest) = url.strip_prefix("sqlite:///") {
        rest
    } else if url.contains("://") || url.starts_with("sqlite:") {
        return Err(format!(
            "'{url}' is not a SQLite URL (use sqlite:///relative/path.db, sqlite:////absolute/path.db or a plain path)"
        ));
    } else {
        url
    };
    if path.is_empty() || path.ends_with('/') || path == ":memory:" || path.contains('?') {
        return Err(format!("'{url}' does not name a database file"));
    }
    Ok(PathBuf::from(path))
}

/// An exact origin, `scheme://host[:port]`, compared lower-cased: no wildcard,
/// path, query, user info or trailing slash, since none of those ever matches the
/// `Origin` a browser sends.
fn parse_origin(origin: &str) -> Result<String, String> {
    let not_an_origin = || format!("'{origin}' is not an exact origin (scheme://host[:port])");
    let lower = origin.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
        .ok_or_else(|| format!("'{origin}' must start with http:// or https://"))?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (rest, None),
    };
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        crate::domain::is_hostname(host)
    };
    let port_ok = port.is_none_or(|p| {
        p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|n| n > 0)
    });
    if host_ok && port_ok {
        Ok(lower)
    } else {
        Err(not_an_origin())
    }
}

fn validate_base_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("'{url}' must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("'{url}' has no host"));
    }
    url.parse::<http::Uri>()
        .map(|_| ())
        .map_err(|_| format!("'{url}' is not a valid URL"))
}

fn parse_bool(
    value: Option<&str>,
    variable: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(other) => Err(ConfigError::new(
            variable,
            format!("'{other}' is not true or false"),
        )),
    }
}

fn parse_number<T: std::str::FromStr>(
    value: Option<&str>,
    variable: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| ConfigError::new(variable, format!("'{v}' is not a valid number"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn master_key_settings_are_checked_and_name_their_variable() {
        let error =
            |pairs: &[(&str, &str)]| Config::from_vars(&vars(pairs)).err().map(|e| e.variable);
        assert_eq!(error(&[("MASTER_KEY", "c2hvcnQ=")]), Some("MASTER_KEY"));
        assert_eq!(
            error(&[("MASTER_KEY", "not base64 at all")]),
            Some("MASTER_KEY")
        );
        let good = crate::crypto::Key::generate().expect("random").to_base64();
        assert_eq!(
            error(&[
                ("MASTER_KEY", good.as_str()),
                ("MASTER_KEY_FILE", "/run/secrets/k")
            ]),
            Some("MASTER_KEY")
        );
        assert_eq!(error(&[("MASTER_KEY", good.as_str())]), None);
        assert_eq!(
            error(&[
                ("DATABASE_URL", "/data/s.db"),
                ("KEYS_DATABASE_URL", "/data/s.db")
            ]),
            Some("KEYS_DATABASE_URL")
        );
        let config = Config::from_vars(&vars(&[("DATABASE_URL", "/data/s.db")])).expect("config");
        assert_eq!(
            config.keys_database_path,
            PathBuf::from("/data/serene.keys.db")
        );
        assert!(matches!(
            config.master_key,
            MasterKeySource::Generated(ref path) if path == Path::new("/data/master.key")
        ));
        assert!(!format!(
            "{:?}",
            Config::from_vars(&vars(&[("MASTER_KEY", good.as_str())])).expect("config")
        )
        .contains(good.as_str()));
    }

    #[test]
    fn exact_origins_with_ports_and_ipv6_hosts_are_accepted() {
        let config = Config::from_vars(&vars(&[(
            "ALLOWED_ORIGINS",
            "https://App.Example.com, http://localhost:5173,http://[::1]:8080",
        )]))
        .unwrap();
        assert_eq!(
            config.allowed_origins,
            [
                "https://app.example.com",
                "http://localhost:5173",
                "http://[::1]:8080"
            ]
        );
    }

    #[test]
    fn defaults_need_no_configuration() {
        let config = Config::from_vars(&HashMap::new()).unwrap();
        assert_eq!(config.database_path, PathBuf::from("./data/serene.db"));
        assert_eq!(config.port, 8080);
        assert_eq!(config.bcrypt_cost, 12);
        assert!(config.cookie_secure);
        assert_eq!(config.vibe_backend, VibeBackendKind::Mock);
        assert!(matches!(config.jwt_secret, SecretSource::File(_)));
        assert_eq!(config.host, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(config.jwt_ttl, Duration::from_secs(7 * 24 * 3600));
        assert!(!config.trust_proxy && config.allowed_origins.is_empty());
        assert_eq!(config.openai.base_url, "https://api.openai.com/v1");
        assert_eq!(config.openai.model, "gpt-4o-mini");
        assert_eq!(config.openai.timeout, Duration::from_millis(10_000));
    }

    #[test]
    fn database_urls_with_three_and_four_slashes_and_plain_paths_are_accepted() {
        let parse = |u| parse_database_url(u).unwrap();
        assert_eq!(
            parse("sqlite:///./data/serene.db"),
            PathBuf::from("./data/serene.db")
        );
        assert_eq!(
            parse("sqlite:////data/serene.db"),
            PathBuf::from("/data/serene.db")
        );
        assert_eq!(parse("/tmp/x.db"), PathBuf::from("/tmp/x.db"));
        assert!(parse_database_url("postgres://x/y").is_err());
        assert!(parse_database_url("sqlite://x.db").is_err());
    }

    #[test]
    fn a_short_jwt_secret_is_refused() {
        let err = Config::from_vars(&vars(&[("JWT_SECRET", "short")])).unwrap_err();
        assert_eq!(err.variable, "JWT_SECRET");
    }

    #[test]
    fn a_bcrypt_cost_below_ten_is_refused() {
        let err = Config::from_vars(&vars(&[("BCRYPT_COST", "9")])).unwrap_err();
        assert_eq!(err.variable, "BCRYPT_COST");
    }

    #[test]
    fn an_api_key_selects_openai_by_default() {
        let config = Config::from_vars(&vars(&[("OPENAI_API_KEY", "sk-test")])).unwrap();
        assert_eq!(config.vibe_backend, VibeBackendKind::OpenAi);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("PORT", "eighty"),
            ("COOKIE_SECURE", "maybe"),
            ("TRUST_PROXY", "sure"),
            ("HOST", "not-an-ip"),
            ("VIBE_BACKEND", "gpt"),
            ("ALLOWED_ORIGINS", "example.com"),
            ("ALLOWED_ORIGINS", "https://*.example.com"),
            ("ALLOWED_ORIGINS", "https://app.example.com/"),
            ("ALLOWED_ORIGINS", "https://app.example.com/path"),
            ("ALLOWED_ORIGINS", "https://user@app.example.com"),
            ("ALLOWED_ORIGINS", "https://app.example.com:99999"),
            ("ALLOWED_ORIGINS", "https://app.example.com?x=1"),
            (
                "ALLOWED_ORIGINS",
                "https://app.example.com,https://ok.example, http://x/",
            ),
            ("OPENAI_TIMEOUT_MS", "0"),
            ("JWT_TTL_SECONDS", "-1"),
            ("OPENAI_BASE_URL", "ftp://x"),
        ] {
            let err = Config::from_vars(&vars(&[(name, value)])).unwrap_err();
            assert_eq!(err.variable, name, "{name}={value}");
        }
    }
}
