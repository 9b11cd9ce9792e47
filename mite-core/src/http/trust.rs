//! Which certificate authorities a verifying request trusts.
//!
//! By default: Mozilla's roots (bundled) and the system's store (the Debian/Ubuntu bundle, or
//! `SSL_CERT_FILE` / `SSL_CERT_DIR` as OpenSSL reads them), so an internal CA installed on
//! the machine works as it does for curl. A bundle named by `MITE_HTTP_CA_BUNDLE`,
//! `REQUESTS_CA_BUNDLE` or `CURL_CA_BUNDLE` (the first one set) replaces them, as it does
//! for requests and curl; so does a request's `verify="/path/ca.pem"`.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use super::tls_error::TlsError;

/// The variables that name a CA bundle for every request, in the order they are looked at.
pub const BUNDLE_VARIABLES: [&str; 3] = [
    "MITE_HTTP_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
];

/// How a request checks the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Verify {
    /// `verify=False`: any certificate is taken.
    Off,
    /// Against the default roots (above).
    Default,
    /// Against the certificates of this PEM file, or of the PEM files in this directory.
    Bundle(Arc<str>),
}

/// The certificates in a PEM file, or in every PEM file of a directory (as OpenSSL's
/// hashed certificate directories hold them; files that are not PEM are passed over).
fn bundle_certificates(path: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read = |file: &Path| {
        std::fs::read(file).map_err(|e| TlsError::Read {
            path: file.display().to_string(),
            source: Arc::new(e),
        })
    };
    let parse = |file: &Path, pem: Vec<u8>| {
        rustls_pemfile::certs(&mut pem.as_slice())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Parse {
                path: file.display().to_string(),
                source: Arc::new(e),
            })
    };
    let path_ref = Path::new(path);
    if !path_ref.is_dir() {
        return parse(path_ref, read(path_ref)?);
    }
    let entries = std::fs::read_dir(path_ref).map_err(|e| TlsError::Read {
        path: path.to_owned(),
        source: Arc::new(e),
    })?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|file| file.is_file())
        .collect();
    files.sort();
    let mut certificates = Vec::new();
    for file in files {
        if let Ok(found) = parse(&file, read(&file)?) {
            certificates.extend(found);
        }
    }
    Ok(certificates)
}

/// The roots of a CA bundle (a `verify=` path, or one of [`BUNDLE_VARIABLES`]).
pub fn bundle_roots(path: &str) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(bundle_certificates(path)?);
    if added == 0 {
        return Err(TlsError::NoCertificate(path.to_owned()));
    }
    Ok(roots)
}

/// Mozilla's roots and the system's store.
fn bundled_and_system_roots() -> RootCertStore {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let system = rustls_native_certs::load_native_certs();
    for error in &system.errors {
        // A machine without a store (a bare container) still has Mozilla's roots.
        log::debug!(target: "mite.http", "system certificate store: {error}");
    }
    roots.add_parsable_certificates(system.certs);
    roots
}

/// The default roots as `var` gives the environment.
pub fn roots_from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<RootCertStore, TlsError> {
    let named = BUNDLE_VARIABLES
        .iter()
        .find_map(|name| var(name).filter(|v| !v.is_empty()).map(|v| (*name, v)));
    match named {
        Some((variable, path)) => bundle_roots(&path).map_err(|e| TlsError::Variable {
            variable,
            detail: e.to_string(),
        }),
        None => Ok(bundled_and_system_roots()),
    }
}

/// The process's default roots, read once (the system store takes a few milliseconds).
pub fn default_roots() -> Result<Arc<RootCertStore>, TlsError> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, TlsError>> = OnceLock::new();
    ROOTS
        .get_or_init(|| roots_from_lookup(|name| std::env::var(name).ok()).map(Arc::new))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_variable_replaces_the_default_roots_and_the_first_set_wins() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();
        let empty = empty.display().to_string();
        let lookup = |pairs: Vec<(&'static str, String)>| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
            }
        };
        let error = roots_from_lookup(lookup(vec![
            ("CURL_CA_BUNDLE", "/nonexistent/curl.pem".into()),
            ("REQUESTS_CA_BUNDLE", empty.clone()),
        ]))
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("REQUESTS_CA_BUNDLE: {empty} holds no certificate")
        );
        let error = roots_from_lookup(lookup(vec![(
            "MITE_HTTP_CA_BUNDLE",
            "/nonexistent/ca.pem".into(),
        )]))
        .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("MITE_HTTP_CA_BUNDLE: reading /nonexistent/ca.pem: "),
            "{error}"
        );
        // Empty values are not set, as for requests.
        let roots =
            roots_from_lookup(lookup(vec![("MITE_HTTP_CA_BUNDLE", String::new())])).unwrap();
        assert!(roots.len() >= webpki_roots::TLS_SERVER_ROOTS.len());
    }
}
