//! HTTP proxies, as libcurl finds them under mite: `http_proxy` / `HTTP_PROXY` for http://
//! URLs (the request goes to the proxy in absolute form), `https_proxy` / `HTTPS_PROXY` for
//! https:// ones (a CONNECT tunnel, TLS end to end), `no_proxy` / `NO_PROXY` for the hosts
//! that are reached directly; a request's `proxy=` overrides them.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use base64::Engine;

/// A proxy to go through: `http://[user:password@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Proxy {
    pub host: Arc<str>,
    pub port: u16,
    /// `Basic ...` for the `Proxy-Authorization` header, from the URL's user and password.
    pub authorization: Option<Arc<str>>,
}

/// libcurl's port for a proxy URL without one.
const DEFAULT_PORT: u16 = 1080;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("{0:?} is not a proxy URL (http://HOST:PORT)")]
    Invalid(String),
    #[error("{0:?}: only http:// proxies are supported")]
    Scheme(String),
}

impl Proxy {
    pub fn parse(text: &str) -> Result<Proxy, ProxyError> {
        let invalid = || ProxyError::Invalid(text.to_owned());
        // A proxy given without a scheme is an http:// one, as for libcurl.
        let with_scheme = if text.contains("://") {
            text.to_owned()
        } else {
            format!("http://{text}")
        };
        let url = url::Url::parse(&with_scheme).map_err(|_| invalid())?;
        if url.scheme() != "http" {
            return Err(ProxyError::Scheme(text.to_owned()));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(invalid)?;
        let authorization = (!url.username().is_empty()).then(|| {
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let pair = format!(
                "{}:{}",
                decode(url.username()),
                decode(url.password().unwrap_or(""))
            );
            let token = base64::engine::general_purpose::STANDARD.encode(pair);
            Arc::from(format!("Basic {token}"))
        });
        Ok(Proxy {
            host: Arc::from(host),
            port: url.port().unwrap_or(DEFAULT_PORT),
            authorization,
        })
    }
}

/// `no_proxy`: hosts reached directly.
#[derive(Debug, Clone, Default, PartialEq)]
struct NoProxy {
    everything: bool,
    /// Domain names, lower case without a leading dot: each matches itself and its subdomains.
    domains: Vec<String>,
    /// Addresses and networks (`10.0.0.0/8`).
    networks: Vec<(IpAddr, u8)>,
}

impl NoProxy {
    fn parse(text: &str) -> NoProxy {
        let mut out = NoProxy::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                out.everything = true;
                continue;
            }
            let (address, bits) = match entry.split_once('/') {
                Some((address, bits)) => (address, bits.parse::<u8>().ok()),
                None => (entry, None),
            };
            let bare = address.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = bare.parse::<IpAddr>() {
                let full = if ip.is_ipv4() { 32 } else { 128 };
                out.networks.push((ip, bits.unwrap_or(full).min(full)));
            } else {
                out.domains
                    .push(entry.trim_start_matches('.').to_ascii_lowercase());
            }
        }
        out
    }

    fn matches(&self, host: &str) -> bool {
        if self.everything {
            return true;
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self
                .networks
                .iter()
                .any(|&(net, bits)| in_network(ip, net, bits));
        }
        let host = bare.to_ascii_lowercase();
        self.domains.iter().any(|domain| {
            host == *domain
                || (host.len() > domain.len()
                    && host.ends_with(domain.as_str())
                    && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
        })
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) as u128, u32::from(b) as u128, 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    let shift = width - u32::from(bits);
    shift >= width || (ip >> shift) == (net >> shift)
}

/// The proxies the environment names.
#[derive(Debug, Clone, Default)]
pub struct ProxyEnvironment {
    http: Option<Result<Arc<Proxy>, String>>,
    https: Option<Result<Arc<Proxy>, String>>,
    no_proxy: NoProxy,
}

impl ProxyEnvironment {
    /// From `var`: the lower-case name first, then the upper-case one (libcurl reads
    /// `HTTP_PROXY` only in lower case; mite-rs takes both, as most tools do).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Self {
        let read = |lower: &'static str, upper: &'static str| {
            let (name, value) = [lower, upper].into_iter().find_map(|name| {
                var(name)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (name, v))
            })?;
            Some(
                Proxy::parse(value.trim())
                    .map(Arc::new)
                    .map_err(|e| format!("{name}: {e}")),
            )
        };
        let no_proxy = ["no_proxy", "NO_PROXY"]
            .into_iter()
            .find_map(&var)
            .map(|v| NoProxy::parse(&v))
            .unwrap_or_default();
        ProxyEnvironment {
            http: read("http_proxy", "HTTP_PROXY"),
            https: read("https_proxy", "HTTPS_PROXY"),
            no_proxy,
        }
    }

    /// The process's, read once.
    pub fn get() -> &'static ProxyEnvironment {
        static ENVIRONMENT: OnceLock<ProxyEnvironment> = OnceLock::new();
        ENVIRONMENT.get_or_init(|| Self::from_lookup(|name| std::env::var(name).ok()))
    }

    /// The proxy for a URL with this scheme and host, if any.
    pub fn for_target(&self, secure: bool, host: &str) -> Result<Option<Arc<Proxy>>, String> {
        let proxy = if secure { &self.https } else { &self.http };
        match proxy {
            None => Ok(None),
            Some(_) if self.no_proxy.matches(host) => Ok(None),
            Some(found) => found.clone().map(Some),
        }
    }
}

/// What a request says about proxies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ProxyChoice {
    /// The environment's (no `proxy=`).
    #[default]
    FromEnvironment,
    /// `proxy=""`: straight to the server.
    Direct,
    /// `proxy="http://..."`: this one, for http:// and https:// URLs alike.
    Via(Arc<Proxy>),
}

impl ProxyChoice {
    pub fn for_target(&self, secure: bool, host: &str) -> Result<Option<Arc<Proxy>>, String> {
        match self {
            ProxyChoice::FromEnvironment => ProxyEnvironment::get().for_target(secure, host),
            ProxyChoice::Direct => Ok(None),
            ProxyChoice::Via(proxy) => Ok(Some(proxy.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> ProxyEnvironment {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ProxyEnvironment::from_lookup(move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn proxy_urls_give_host_port_and_credentials() {
        let proxy = Proxy::parse("http://ann:s%40cret@proxy.local:3128").unwrap();
        assert_eq!((&*proxy.host, proxy.port), ("proxy.local", 3128));
        // base64("ann:s@cret")
        assert_eq!(
            proxy.authorization.as_deref(),
            Some("Basic YW5uOnNAY3JldA==")
        );
        assert_eq!(Proxy::parse("10.1.2.3").unwrap().port, 1080);
        assert!(matches!(
            Proxy::parse("socks5://h:1"),
            Err(ProxyError::Scheme(_))
        ));
        assert!(matches!(
            Proxy::parse("http://"),
            Err(ProxyError::Invalid(_))
        ));
    }

    #[test]
    fn each_scheme_has_its_variable_and_no_proxy_exempts_hosts() {
        let e = env(&[
            ("HTTP_PROXY", "http://upper:1"),
            ("http_proxy", "http://lower:2"),
            ("HTTPS_PROXY", "http://secure:3"),
            ("NO_PROXY", "internal.example, .corp, 10.0.0.0/8, ::1"),
        ]);
        let host = |secure, host| {
            e.for_target(secure, host)
                .unwrap()
                .map(|p| p.host.to_string())
        };
        assert_eq!(host(false, "a.test").as_deref(), Some("lower"));
        assert_eq!(host(true, "a.test").as_deref(), Some("secure"));
        for direct in [
            "internal.example",
            "api.internal.example",
            "x.corp",
            "10.20.30.40",
            "[::1]",
        ] {
            assert_eq!(host(false, direct), None, "{direct}");
        }
        assert_eq!(host(false, "notinternal.example").as_deref(), Some("lower"));
        assert_eq!(host(false, "11.0.0.1").as_deref(), Some("lower"));
        assert_eq!(
            env(&[("https_proxy", "ftp://x")])
                .for_target(true, "h")
                .unwrap_err(),
            "https_proxy: \"ftp://x\": only http:// proxies are supported"
        );
        let all = env(&[("http_proxy", "p:1"), ("no_proxy", "*")]);
        assert_eq!(all.for_target(false, "anything").unwrap(), None);
    }
}
