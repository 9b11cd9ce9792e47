//! TLS client configurations: verifying (against the roots [`super::trust`] picks) or not,
//! with or without a client certificate. All offer HTTP/2 and HTTP/1.1 by ALPN.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

pub use super::tls_error::TlsError;
use super::trust::{bundle_roots, default_roots, Verify};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Read {
        path: path.to_owned(),
        source: Arc::new(e),
    })
}

fn parse_error(path: &str) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |e| TlsError::Parse {
        path: path.to_owned(),
        source: Arc::new(e),
    }
}

/// A client certificate and its key, loaded from PEM files.
pub struct ClientCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl ClientCert {
    /// `cert=(keyfile, certfile)`, mite's (key first) order.
    pub fn load(keyfile: &str, certfile: &str) -> Result<Self, TlsError> {
        let cert_pem = read(certfile)?;
        let chain = rustls_pemfile::certs(&mut cert_pem.as_slice())
            .collect::<Result<Vec<_>, _>>()
            .map_err(parse_error(certfile))?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate(certfile.to_owned()));
        }
        let key_pem = read(keyfile)?;
        let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
            .map_err(parse_error(keyfile))?
            .ok_or_else(|| TlsError::NoPrivateKey(keyfile.to_owned()))?;
        Ok(ClientCert { chain, key })
    }
}

/// A TLS configuration; unless `verify` is [`Verify::Off`] it checks the server's
/// certificate and name against the roots `verify` names.
pub fn client_config(verify: &Verify, cert: Option<ClientCert>) -> Result<ClientConfig, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Protocol)?;
    let builder = match verify {
        Verify::Default => builder.with_root_certificates(default_roots()?),
        Verify::Bundle(path) => builder.with_root_certificates(bundle_roots(path)?),
        Verify::Off => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider()))),
    };
    let mut config = match cert {
        Some(cert) => builder
            .with_client_auth_cert(cert.chain, cert.key)
            .map_err(TlsError::ClientCertificate)?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Accepts any certificate (the `verify=False` switch; mite never verified).
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
