//! One cookie jar per journey session (curl's per-easy-handle jar in mite): cookies a server
//! sets are sent back on later requests of the same session, never to another journey.

use std::sync::Mutex;

use cookie_store::{CookieStore, RawCookie};
use url::Url;

#[derive(Default)]
pub struct CookieJar(Mutex<CookieStore>);

impl CookieJar {
    pub fn new() -> Self {
        CookieJar::default()
    }

    fn store(&self) -> std::sync::MutexGuard<'_, CookieStore> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the jar holds no cookie at all (most journeys): then no URL needs parsing.
    pub fn is_empty(&self) -> bool {
        self.store().iter_any().next().is_none()
    }

    /// The `Cookie` header value for a request to `url`, if any cookie matches.
    pub fn header_for(&self, url: &Url) -> Option<String> {
        let store = self.store();
        let pairs: Vec<String> = store
            .get_request_values(url)
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// Stores the `Set-Cookie` headers of a response from `url`.
    pub fn store_from_response<'a>(&self, url: &Url, set_cookies: impl Iterator<Item = &'a str>) {
        let cookies: Vec<RawCookie<'static>> = set_cookies
            .filter_map(|value| RawCookie::parse(value.to_owned()).ok())
            .collect();
        if !cookies.is_empty() {
            self.store()
                .store_response_cookies(cookies.into_iter(), url);
        }
    }

    /// A session cookie for `url`'s host (or `domain` and its subdomains), path `/`: what
    /// `cookies=` on a request adds, as mite does, for the rest of the session.
    pub fn add(&self, url: &Url, name: &str, value: &str, domain: Option<&str>) {
        let mut cookie = RawCookie::new(name.to_owned(), value.to_owned());
        cookie.set_path("/");
        let host = url.host_str().unwrap_or_default();
        if let Some(domain) = domain.map(|d| d.trim_start_matches('.')) {
            if !domain.is_empty() && domain != host {
                cookie.set_domain(domain.to_owned());
            }
        }
        let _ = self.store().insert_raw(&cookie, url);
    }

    /// `name → value` of every unexpired cookie.
    pub fn all(&self) -> Vec<(String, String)> {
        self.store()
            .iter_unexpired()
            .map(|c| (c.name().to_owned(), c.value().to_owned()))
            .collect()
    }

    pub fn clear(&self) {
        self.store().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_set_by_a_response_go_back_to_the_same_host() {
        let jar = CookieJar::new();
        let url = Url::parse("http://127.0.0.1:8000/login").unwrap();
        jar.store_from_response(&url, ["session=abc; Path=/", "theme=dark"].into_iter());
        let header = jar.header_for(&Url::parse("http://127.0.0.1:8000/home").unwrap());
        let header = header.unwrap();
        assert!(header.contains("session=abc"), "{header}");
        assert!(header.contains("theme=dark"), "{header}");
        assert_eq!(
            jar.header_for(&Url::parse("http://example.com/").unwrap()),
            None
        );
    }

    #[test]
    fn request_cookies_stick_to_the_session_and_clear_empties_it() {
        let jar = CookieJar::new();
        let url = Url::parse("http://localhost:8000/a/b").unwrap();
        jar.add(&url, "token", "t1", None);
        assert_eq!(
            jar.header_for(&Url::parse("http://localhost:8000/other").unwrap())
                .as_deref(),
            Some("token=t1")
        );
        assert_eq!(jar.all(), [("token".to_owned(), "t1".to_owned())]);
        jar.clear();
        assert!(jar.all().is_empty());
    }
}
