//! Request defaults from the environment, and the checks on a request's own options that do
//! not depend on how they were passed.

use std::sync::OnceLock;
use std::time::Duration;

use thiserror::Error;

/// How long a request may take unless it says (`MITE_HTTP_TIMEOUT` overrides).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Defaults every request of the process starts from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestDefaults {
    pub timeout: Duration,
    /// Verify TLS certificates (`MITE_HTTP_VERIFY=0` turns it off; mite never verified).
    pub verify_tls: bool,
}

/// A request option that cannot be used.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RequestOptionError {
    #[error("timeout must be a positive number of seconds, not {0}")]
    BadTimeout(f64),
    #[error("use only one or none of data or json")]
    DataAndJson,
}

impl RequestDefaults {
    /// The defaults from `MITE_HTTP_TIMEOUT` (seconds) and `MITE_HTTP_VERIFY`, given a way to
    /// read a variable. Values that make no sense fall back to the default.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Self {
        let timeout = var("MITE_HTTP_TIMEOUT")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|t| t.is_finite() && *t > 0.0)
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs_f64);
        let verify_tls = !var("MITE_HTTP_VERIFY").is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "0" | "false" | "no" | "off"
            )
        });
        RequestDefaults {
            timeout,
            verify_tls,
        }
    }

    /// The process's defaults, read from its environment once.
    pub fn get() -> RequestDefaults {
        static DEFAULTS: OnceLock<RequestDefaults> = OnceLock::new();
        *DEFAULTS.get_or_init(|| Self::from_lookup(|name| std::env::var(name).ok()))
    }

    /// A request's `timeout=` (seconds), or the default when it gave none.
    pub fn timeout(&self, given: Option<f64>) -> Result<Duration, RequestOptionError> {
        match given {
            None => Ok(self.timeout),
            Some(t) if t.is_finite() && t > 0.0 => Ok(Duration::from_secs_f64(t)),
            Some(t) => Err(RequestOptionError::BadTimeout(t)),
        }
    }
}

/// A request body may come from `data=` or `json=`, not both.
pub fn check_body_options(data: bool, json: bool) -> Result<(), RequestOptionError> {
    if data && json {
        return Err(RequestOptionError::DataAndJson);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> RequestDefaults {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        RequestDefaults::from_lookup(|name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn without_variables_requests_verify_tls_and_wait_thirty_seconds() {
        assert_eq!(
            with(&[]),
            RequestDefaults {
                timeout: DEFAULT_TIMEOUT,
                verify_tls: true
            }
        );
    }

    #[test]
    fn the_environment_sets_the_timeout_and_can_turn_verification_off() {
        let d = with(&[("MITE_HTTP_TIMEOUT", "2.5"), ("MITE_HTTP_VERIFY", "Off")]);
        assert_eq!(d.timeout, Duration::from_millis(2500));
        assert!(!d.verify_tls);
        assert!(with(&[("MITE_HTTP_VERIFY", "1")]).verify_tls);
    }

    #[test]
    fn nonsense_timeouts_in_the_environment_keep_the_default() {
        for bad in ["0", "-1", "soon", "inf", "NaN"] {
            assert_eq!(with(&[("MITE_HTTP_TIMEOUT", bad)]).timeout, DEFAULT_TIMEOUT);
        }
    }

    #[test]
    fn a_requests_own_timeout_must_be_positive() {
        let d = with(&[]);
        assert_eq!(d.timeout(None), Ok(DEFAULT_TIMEOUT));
        assert_eq!(d.timeout(Some(0.25)), Ok(Duration::from_millis(250)));
        assert_eq!(
            d.timeout(Some(0.0)),
            Err(RequestOptionError::BadTimeout(0.0))
        );
        assert!(matches!(
            d.timeout(Some(f64::NAN)),
            Err(RequestOptionError::BadTimeout(_))
        ));
    }

    #[test]
    fn data_and_json_together_are_refused() {
        assert_eq!(
            check_body_options(true, true),
            Err(RequestOptionError::DataAndJson)
        );
        assert_eq!(check_body_options(true, false), Ok(()));
        assert_eq!(check_body_options(false, false), Ok(()));
    }
}
