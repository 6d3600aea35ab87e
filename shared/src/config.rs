//! Typed configuration, read once at init. A missing or malformed variable fails the cold start
//! with a message naming the variable, instead of failing the first request.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    /// An error whose message names the variable (for wiring that reads more of the environment).
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// A secret string that never prints its value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub delivery_queue_url: String,
    pub inbound_queue_url: Option<String>,
    pub export_queue_url: Option<String>,
    pub export_bucket: Option<String>,
    /// Base of absolute links (sync-job `webhookUrl`, alert `consoleUrl`); checked at init.
    pub public_base_url: Option<String>,
    pub root_api_key: Option<Secret>,
    /// Local testing only: allows http and loopback/private targets (DESIGN §3).
    pub allow_private_targets: bool,
    /// Multiplies every retry delay; tests set it to 0 to run retries back to back.
    pub retry_delay_scale: f64,
    /// Attempts of a transaction that DynamoDB cancels with `TransactionConflict`.
    pub conflict_max_attempts: u32,
    pub conflict_base_delay: Duration,
    pub max_receive_count: u32,
    /// How long a counter-sync lease stays valid if its holder dies.
    pub sync_lease: Duration,
    /// Delay before a counter sync that found the lease taken is tried again.
    pub lease_busy_retry_delay: Duration,
    pub hubspot_timeout: Duration,
    /// The API's one inline GHL attempt after a calendar change (GHL_INLINE_BUDGET_MS, 3000).
    pub ghl_inline_budget: Duration,
    /// Per-call timeout of queued GHL retries (GHL_TIMEOUT_MS, 10000).
    pub ghl_timeout: Duration,
    pub delivery_log_ttl_days: u32,
    /// Raw inbound events (and worker executions) are kept this long (DynamoDB TTL).
    pub inbound_event_ttl_days: u32,
    /// One DynamoDB/SQS attempt gives up after this (AWS_ATTEMPT_TIMEOUT_MS, 3000): a stalled
    /// table answers `busy` instead of holding the request to the function's timeout.
    pub aws_attempt_timeout: Duration,
    /// A DynamoDB/SQS call with its retries gives up after this (AWS_OPERATION_TIMEOUT_MS,
    /// 10000; at least the attempt timeout).
    pub aws_operation_timeout: Duration,
    /// Stripe's API for backfill reads (STRIPE_API_BASE, default https://api.stripe.com).
    pub stripe_api_base: String,
    /// Close's API for backfill reads (CLOSE_API_BASE, default https://api.close.com).
    pub close_api_base: String,
    /// One provider API call of a backfill gives up after this (PROVIDER_TIMEOUT_MS, 10000).
    pub provider_timeout: Duration,
    /// Sync jobs may write to DynamoDB tables whose names start with this
    /// (DESTINATION_TABLE_PREFIX, default `sync-dest-`; the template's DestinationTablePrefix).
    pub destination_table_prefix: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_map(&vars)
    }

    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| {
            vars.get(k)
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        let required = |k: &str| {
            get(k).ok_or_else(|| ConfigError(format!("environment variable {k} is required")))
        };
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            delivery_queue_url: required("DELIVERY_QUEUE_URL")?,
            inbound_queue_url: get("INBOUND_QUEUE_URL"),
            export_queue_url: get("EXPORT_QUEUE_URL"),
            export_bucket: get("EXPORT_BUCKET"),
            public_base_url: get("PUBLIC_BASE_URL").map(|u| u.trim_end_matches('/').to_owned()),
            root_api_key: get("ROOT_API_KEY").map(Secret::new),
            allow_private_targets: parse_bool(
                "ALLOW_PRIVATE_TARGETS",
                get("ALLOW_PRIVATE_TARGETS"),
            )?,
            retry_delay_scale: parse_num("RETRY_DELAY_SCALE", get("RETRY_DELAY_SCALE"), 1.0)?,
            conflict_max_attempts: parse_num(
                "CONFLICT_MAX_ATTEMPTS",
                get("CONFLICT_MAX_ATTEMPTS"),
                6,
            )?,
            conflict_base_delay: Duration::from_millis(parse_num(
                "CONFLICT_BASE_DELAY_MS",
                get("CONFLICT_BASE_DELAY_MS"),
                15,
            )?),
            max_receive_count: parse_num("MAX_RECEIVE_COUNT", get("MAX_RECEIVE_COUNT"), 5)?,
            sync_lease: Duration::from_secs(parse_num(
                "SYNC_LEASE_SECONDS",
                get("SYNC_LEASE_SECONDS"),
                120,
            )?),
            lease_busy_retry_delay: Duration::from_secs(parse_num(
                "LEASE_BUSY_RETRY_SECONDS",
                get("LEASE_BUSY_RETRY_SECONDS"),
                2,
            )?),
            ghl_inline_budget: Duration::from_millis(parse_num(
                "GHL_INLINE_BUDGET_MS",
                get("GHL_INLINE_BUDGET_MS"),
                3_000,
            )?),
            ghl_timeout: Duration::from_millis(parse_num(
                "GHL_TIMEOUT_MS",
                get("GHL_TIMEOUT_MS"),
                10_000,
            )?),
            hubspot_timeout: Duration::from_millis(parse_num(
                "HUBSPOT_TIMEOUT_MS",
                get("HUBSPOT_TIMEOUT_MS"),
                10_000,
            )?),
            delivery_log_ttl_days: parse_num(
                "DELIVERY_LOG_TTL_DAYS",
                get("DELIVERY_LOG_TTL_DAYS"),
                30,
            )?,
            inbound_event_ttl_days: parse_num(
                "INBOUND_EVENT_TTL_DAYS",
                get("INBOUND_EVENT_TTL_DAYS"),
                30,
            )?,
            aws_attempt_timeout: Duration::from_millis(parse_num(
                "AWS_ATTEMPT_TIMEOUT_MS",
                get("AWS_ATTEMPT_TIMEOUT_MS"),
                3_000,
            )?),
            aws_operation_timeout: Duration::from_millis(parse_num(
                "AWS_OPERATION_TIMEOUT_MS",
                get("AWS_OPERATION_TIMEOUT_MS"),
                10_000,
            )?),
            stripe_api_base: get("STRIPE_API_BASE")
                .unwrap_or_else(|| "https://api.stripe.com".to_owned())
                .trim_end_matches('/')
                .to_owned(),
            close_api_base: get("CLOSE_API_BASE")
                .unwrap_or_else(|| "https://api.close.com".to_owned())
                .trim_end_matches('/')
                .to_owned(),
            provider_timeout: Duration::from_millis(parse_num(
                "PROVIDER_TIMEOUT_MS",
                get("PROVIDER_TIMEOUT_MS"),
                10_000,
            )?),
            destination_table_prefix: get("DESTINATION_TABLE_PREFIX")
                .unwrap_or_else(|| "sync-dest-".to_owned()),
        })
        .and_then(Self::validated)
    }

    fn validated(self) -> Result<Self, ConfigError> {
        if !(0.0..=1.0).contains(&self.retry_delay_scale) {
            return Err(ConfigError(
                "RETRY_DELAY_SCALE must be between 0 and 1".to_owned(),
            ));
        }
        if self.conflict_max_attempts == 0 {
            return Err(ConfigError(
                "CONFLICT_MAX_ATTEMPTS must be at least 1".to_owned(),
            ));
        }
        if let Some(base) = &self.public_base_url {
            let parsed = url::Url::parse(base).ok().filter(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some()
                    && u.query().is_none()
                    && u.fragment().is_none()
            });
            if parsed.is_none() {
                return Err(ConfigError(format!(
                    "PUBLIC_BASE_URL must be an absolute http(s) URL without query or fragment, got {base:?}"
                )));
            }
        }
        if self.max_receive_count == 0 {
            return Err(ConfigError(
                "MAX_RECEIVE_COUNT must be at least 1".to_owned(),
            ));
        }
        if self.aws_attempt_timeout < Duration::from_millis(100) {
            return Err(ConfigError(
                "AWS_ATTEMPT_TIMEOUT_MS must be at least 100".to_owned(),
            ));
        }
        if self.aws_operation_timeout < self.aws_attempt_timeout {
            return Err(ConfigError(
                "AWS_OPERATION_TIMEOUT_MS must be at least AWS_ATTEMPT_TIMEOUT_MS".to_owned(),
            ));
        }
        for (name, base) in [
            ("STRIPE_API_BASE", &self.stripe_api_base),
            ("CLOSE_API_BASE", &self.close_api_base),
        ] {
            let ok = url::Url::parse(base).ok().is_some_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some()
                    && u.query().is_none()
            });
            if !ok {
                return Err(ConfigError(format!(
                    "{name} must be an absolute http(s) URL, got {base:?}"
                )));
            }
        }
        Ok(self)
    }

    /// For functions that cannot run without the root key (workspace creation).
    pub fn require_root_api_key(&self) -> Result<&Secret, ConfigError> {
        self.root_api_key
            .as_ref()
            .ok_or_else(|| ConfigError("environment variable ROOT_API_KEY is required".to_owned()))
    }

    /// For functions that read or write export files (S3).
    pub fn require_export_bucket(&self) -> Result<&str, ConfigError> {
        self.export_bucket
            .as_deref()
            .ok_or_else(|| ConfigError("environment variable EXPORT_BUCKET is required".to_owned()))
    }

    /// Settings for in-process tests: fast retries, fakes need no URLs.
    pub fn for_tests(table_name: &str, delivery_queue_url: &str) -> Self {
        let mut vars = HashMap::new();
        vars.insert("TABLE_NAME".to_owned(), table_name.to_owned());
        vars.insert(
            "DELIVERY_QUEUE_URL".to_owned(),
            delivery_queue_url.to_owned(),
        );
        vars.insert("ALLOW_PRIVATE_TARGETS".to_owned(), "true".to_owned());
        vars.insert("RETRY_DELAY_SCALE".to_owned(), "0".to_owned());
        vars.insert("CONFLICT_BASE_DELAY_MS".to_owned(), "1".to_owned());
        vars.insert("LEASE_BUSY_RETRY_SECONDS".to_owned(), "0".to_owned());
        vars.insert("HUBSPOT_TIMEOUT_MS".to_owned(), "3000".to_owned());
        vars.insert("ROOT_API_KEY".to_owned(), "root_test_key".to_owned());
        vars.insert(
            "PUBLIC_BASE_URL".to_owned(),
            "http://127.0.0.1:3000".to_owned(),
        );
        match Self::from_map(&vars) {
            Ok(c) => c,
            Err(e) => panic!("test config is invalid: {e}"),
        }
    }
}

fn parse_bool(name: &str, v: Option<String>) -> Result<bool, ConfigError> {
    match v.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") | Some("0") | Some("no") => Ok(false),
        Some("true") | Some("1") | Some("yes") => Ok(true),
        Some(_) => Err(ConfigError(format!("{name} must be true or false"))),
    }
}

fn parse_num<T: std::str::FromStr>(
    name: &str,
    v: Option<String>,
    default: T,
) -> Result<T, ConfigError> {
    match v {
        None => Ok(default),
        Some(s) => s
            .parse()
            .map_err(|_| ConfigError(format!("{name} must be a number, got {s:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> HashMap<String, String> {
        let mut m = HashMap::new();
        m.insert("TABLE_NAME".into(), "t".into());
        m.insert("DELIVERY_QUEUE_URL".into(), "http://q".into());
        m
    }

    #[test]
    fn missing_table_name_names_the_variable() {
        let mut m = base();
        m.remove("TABLE_NAME");
        let err = Config::from_map(&m).unwrap_err().to_string();
        assert!(err.contains("TABLE_NAME"), "{err}");
    }

    #[test]
    fn malformed_bool_and_number_fail_fast() {
        let mut m = base();
        m.insert("ALLOW_PRIVATE_TARGETS".into(), "maybe".into());
        assert!(Config::from_map(&m)
            .unwrap_err()
            .to_string()
            .contains("ALLOW_PRIVATE_TARGETS"));
        let mut m = base();
        m.insert("MAX_RECEIVE_COUNT".into(), "five".into());
        assert!(Config::from_map(&m)
            .unwrap_err()
            .to_string()
            .contains("MAX_RECEIVE_COUNT"));
    }

    #[test]
    fn defaults_are_production_safe() {
        let c = Config::from_map(&base()).unwrap();
        assert!(!c.allow_private_targets);
        assert_eq!(c.retry_delay_scale, 1.0);
        assert_eq!(c.max_receive_count, 5);
        assert!(c.require_root_api_key().is_err());
        let err = c.require_export_bucket().unwrap_err().to_string();
        assert!(err.contains("EXPORT_BUCKET"), "{err}");
    }

    #[test]
    fn public_base_url_must_be_absolute() {
        for bad in [
            "console.example.com",
            "ftp://x.example",
            "https://x.example/?a=1",
        ] {
            let mut m = base();
            m.insert("PUBLIC_BASE_URL".into(), bad.into());
            let err = Config::from_map(&m).unwrap_err().to_string();
            assert!(err.contains("PUBLIC_BASE_URL"), "{bad}: {err}");
        }
        let mut m = base();
        m.insert("PUBLIC_BASE_URL".into(), "https://api.example.com/".into());
        let c = Config::from_map(&m).unwrap();
        assert_eq!(
            c.public_base_url.as_deref(),
            Some("https://api.example.com")
        );
    }

    #[test]
    fn provider_bases_default_to_the_real_apis() {
        let c = Config::from_map(&base()).unwrap();
        assert_eq!(c.stripe_api_base, "https://api.stripe.com");
        assert_eq!(c.close_api_base, "https://api.close.com");
        let mut m = base();
        m.insert("STRIPE_API_BASE".into(), "http://127.0.0.1:9/".into());
        m.insert("CLOSE_API_BASE".into(), "not a url".into());
        let err = Config::from_map(&m).unwrap_err().to_string();
        assert!(err.contains("CLOSE_API_BASE"), "{err}");
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("root_abc");
        assert!(!format!("{s:?}").contains("root_abc"));
    }
}
