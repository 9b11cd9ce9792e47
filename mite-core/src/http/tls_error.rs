//! Why a TLS configuration could not be made (its own module: the trust store and the
//! client configuration both report these).

use std::sync::Arc;

/// Why a TLS configuration could not be made.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: Arc<std::io::Error>,
    },
    #[error("parsing {path}: {source}")]
    Parse {
        path: String,
        source: Arc<std::io::Error>,
    },
    #[error("{0} holds no certificate")]
    NoCertificate(String),
    #[error("{0} holds no private key")]
    NoPrivateKey(String),
    #[error("client certificate: {0}")]
    ClientCertificate(rustls::Error),
    #[error("{0}")]
    Protocol(rustls::Error),
    /// A CA bundle named by an environment variable.
    #[error("{variable}: {detail}")]
    Variable {
        variable: &'static str,
        detail: String,
    },
}
