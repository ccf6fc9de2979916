//! TLS for `kiroku serve --tls-cert FILE --tls-key FILE` (rustls, PEM files).
//!
//! Handshakes run in each connection's own task with a deadline (see `conn`), so a client
//! that stalls mid-handshake holds up nobody.
use crate::error::{KirokuError, Result};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// Reads a certificate chain and its private key (PEM) into a rustls acceptor.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor> {
    let bad = |what: &str, path: &Path, e: String| {
        KirokuError::Invalid(format!("{what} {}: {e}", path.display()))
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad("cannot read the certificate", cert, e.to_string()))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad("cannot read the certificate", cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(bad("no certificate in", cert, "expected PEM".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| bad("cannot read the private key", key, e.to_string()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| KirokuError::Invalid(format!("unusable TLS certificate or key: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
